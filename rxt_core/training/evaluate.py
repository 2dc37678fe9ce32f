"""Evaluate an RxT model or the stateless baseline on dialogues (what `rxt eval` prints).

Two passes over the same dialogues:
- teacher-forced: perplexity and next-token accuracy on the answer tokens (+ [EOS]) of every
  turn. RxT reads STM_{t-1} written from the reference turns; the baseline reads the whole
  reference history. The scored tokens are identical for both, so the numbers compare.
- generation (greedy): each model answers every query as in a real chat. RxT's memory is
  updated with its *own* answers (as in serving); the baseline's history holds its own
  answers. Scored: fact recall by distance and by fact kind (the asked value appears in the
  answer), the copy of stated values by fact kind (where the reference answer repeats a value
  the query states, does the generated one?) and the MRL reward (rxt_core.metrics) per turn,
  averaged per dialogue. A model that cannot copy a kind of value cannot recall it either.
  Every missed recall is kept (kind, value, distance, question, answer) so a miss can be read,
  not only counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from .. import generation
from ..metrics import HitRates, RecallByDistance, mrl_reward, perplexity, recalled
from ..model import ReactiveTransformer
from ..sampling import SamplingParams
from ..stateless import StatelessLM
from .batching import TokenDialogue, TokenTurn, history_batch, turn_batch
from .losses import next_token_nll


@dataclass
class EvalResult:
    name: str
    parameters: int
    dialogues: int
    answer_tokens: int = 0
    answer_nll: float = 0.0
    answer_correct: int = 0
    rewards: list[float] = field(default_factory=list)  # per-dialogue mean reward
    recall: RecallByDistance = field(default_factory=RecallByDistance)
    recall_by_fact: HitRates = field(default_factory=HitRates)
    copy_by_fact: HitRates = field(default_factory=HitRates)
    seconds: float = 0.0
    samples: list[dict] = field(default_factory=list)
    misses: list[dict] = field(default_factory=list)  # one per missed recall question

    @property
    def ppl(self) -> float:
        return perplexity(self.answer_nll, self.answer_tokens)

    @property
    def accuracy(self) -> float:
        return self.answer_correct / self.answer_tokens

    def as_dict(self) -> dict:
        rewards = self.rewards or [math.nan]
        return {
            "name": self.name,
            "parameters": self.parameters,
            "dialogues": self.dialogues,
            "answer_tokens": self.answer_tokens,
            "perplexity": self.ppl,
            "answer_accuracy": self.accuracy,
            "mrl_reward": {"mean": sum(rewards) / len(rewards), "max": max(rewards), "min": min(rewards)},
            "recall_overall": self.recall.overall(),
            "recall_1_8": self.recall.overall(1, 8),
            "recall_9_16": self.recall.overall(9, 16),
            "recall_by_distance": self.recall.as_dict(),
            "recall_by_fact": self.recall_by_fact.as_dict(),
            "copy_overall": self.copy_by_fact.overall(),
            "copy_by_fact": self.copy_by_fact.as_dict(),
            "seconds": self.seconds,
            "samples": self.samples,
            "misses": self.misses,
        }


def evaluate(
    model: ReactiveTransformer | StatelessLM,
    tokenizer,
    dialogues: list[TokenDialogue],
    name: str,
    batch_size: int = 32,
    max_new_tokens: int = 32,
    samples: int = 3,
) -> EvalResult:
    model.eval()
    result = EvalResult(name, sum(p.numel() for p in model.parameters()), len(dialogues))
    started = time.perf_counter()
    for start in range(0, len(dialogues), batch_size):
        chunk = dialogues[start : start + batch_size]
        with torch.inference_mode():
            if isinstance(model, ReactiveTransformer):
                _teacher_forced_rxt(model, chunk, result)
                answers = _generate_rxt(model, chunk, max_new_tokens)
            else:
                _teacher_forced_stateless(model, chunk, result)
                answers = _generate_stateless(model, chunk, max_new_tokens)
        _score(chunk, answers, tokenizer, result, samples)
    result.seconds = time.perf_counter() - started
    return result


def _teacher_forced_rxt(
    model: ReactiveTransformer, dialogues: list[TokenDialogue], result: EvalResult
) -> None:
    config = model.config
    stm = model.init_memory(len(dialogues))
    for t in range(max(len(d) for d in dialogues)):
        batch = turn_batch(dialogues, t, config).to(model.device)
        logits, _ = model(batch.ids, stm)
        _add(result, logits, batch)
        new = model.write_memory(stm, batch.ids, batch.mask)
        stm = batch.written(new, stm)


def _teacher_forced_stateless(model: StatelessLM, dialogues: list[TokenDialogue], result: EvalResult) -> None:
    batch = history_batch(dialogues, model.config).to(model.device)
    logits, _ = model(batch.ids)
    _add(result, logits, batch)


def _add(result: EvalResult, logits, batch) -> None:
    nll, correct = next_token_nll(logits, batch)
    result.answer_nll += float(nll)
    result.answer_correct += int(correct)
    result.answer_tokens += batch.target_count


def _generate_rxt(
    model: ReactiveTransformer, dialogues: list[TokenDialogue], max_new: int
) -> list[list[list[int]]]:
    answers: list[list[list[int]]] = [[] for _ in dialogues]
    queries = [[turn.query for turn in dialogue] for dialogue in dialogues]
    for turn in replay(model, queries, SamplingParams(max_new_tokens=max_new)):
        for b, ids in zip(turn.rows, turn.answers, strict=True):
            answers[b].append(ids)
    return answers


@dataclass
class ReplayedTurn:
    index: int  # the turn's number in its dialogues
    rows: list[int]  # the dialogues that have this turn
    memory: torch.Tensor  # those rows' STM before the turn (a copy)
    answers: list[list[int]]  # what the model answered, per row


def replay(
    model: ReactiveTransformer, queries: list[list[list[int]]], params: SamplingParams | None = None
) -> Iterator[ReplayedTurn]:
    """Dialogues (each a list of query ids) answered turn by turn as in a real chat, a batch of
    rows at a time (greedy unless `params` say otherwise), each answer written to memory once the
    turn has been yielded. The writes are fp32 so the figures do not depend on the CPU kind.
    Shared by `rxt eval` and the probes in docs/results, so a probe sees the memory the eval saw."""
    stm = model.init_memory(len(queries))
    for t in range(max(map(len, queries))):
        rows = [b for b, q in enumerate(queries) if t < len(q)]
        turn_queries = [queries[b][t] for b in rows]
        index = torch.tensor(rows, device=stm.device)
        memory = stm[index]
        answers = model.generate(turn_queries, memory, params)
        yield ReplayedTurn(t, rows, memory, answers)
        stm[index] = model.update_memory(memory, turn_queries, answers, precision="fp32")


def _generate_stateless(
    model: StatelessLM, dialogues: list[TokenDialogue], max_new: int
) -> list[list[list[int]]]:
    params = SamplingParams(max_new_tokens=max_new)
    answers: list[list[list[int]]] = [[] for _ in dialogues]
    for t in range(max(len(d) for d in dialogues)):
        rows = [b for b, d in enumerate(dialogues) if t < len(d)]
        prompts = [
            model.history_prompt(
                [(dialogues[b][i].query, answers[b][i]) for i in range(t)], dialogues[b][t].query
            )
            for b in rows
        ]
        produced: list[list[int]] = [[] for _ in rows]
        for step in generation.stream(model, prompts, [params] * len(rows)):
            for row, token in enumerate(step):
                if token is not None:
                    produced[row].append(token)
        for b, ids in zip(rows, produced, strict=True):
            answers[b].append(ids)
    return answers


def _score(dialogues, answers, tokenizer, result: EvalResult, samples: int) -> None:
    for dialogue, produced in zip(dialogues, answers, strict=True):
        history: list[str] = []
        rewards = []
        transcript = []
        for t, (turn, ids) in enumerate(zip(dialogue, produced, strict=True)):
            text = tokenizer.decode(ids)
            rewards.append(mrl_reward(text, turn.answer_text, history))
            if turn.recall is not None:
                hit = recalled(text, turn.recall.value)
                result.recall.add(turn.recall.distance, hit)
                result.recall_by_fact.add(turn.recall.fact, hit)
                if not hit:
                    result.misses.append(_miss(turn, text, dialogue=len(result.rewards), turn_index=t))
            for fact in turn.stated:
                if recalled(turn.answer_text, fact.value):
                    result.copy_by_fact.add(fact.fact, recalled(text, fact.value))
            history.append(f"{turn.query_text} {turn.answer_text}")
            transcript.append({"query": turn.query_text, "reference": turn.answer_text, "generated": text})
        result.rewards.append(sum(rewards) / len(rewards))
        if len(result.samples) < samples:
            result.samples.append({"turns": transcript})


def _miss(turn: TokenTurn, generated: str, dialogue: int, turn_index: int) -> dict:
    """A missed recall; `dialogue` and `turn_index` count from 0 in the evaluated file's order."""
    recall = turn.recall
    assert recall is not None
    return {
        "dialogue": dialogue,
        "turn": turn_index,
        "fact": recall.fact,
        "value": recall.value,
        "distance": recall.distance,
        "query": turn.query_text,
        "reference": turn.answer_text,
        "generated": generated,
    }
