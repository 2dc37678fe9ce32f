"""Dialogue metrics: perplexity, answer-token accuracy, BLEU, cosine similarity, the MRL reward
and fact recall by distance.

Text similarity works on words: lower-cased runs of letters/digits, and each punctuation mark
as its own token (`words`).
- BLEU: sentence BLEU-4 (geometric mean of clipped 1..4-gram precisions times the brevity
  penalty), with add-one smoothing of the 2..4-gram precisions (Lin & Och 2004) so short
  answers with no 4-gram match do not score 0. Texts shorter than 4 words use n up to their
  length. Identical texts score 1.0.
- Cosine similarity: between bag-of-words count vectors. Chosen over embedding cosines because
  it needs no second model, is deterministic, and scores the facts (names, numbers) that matter
  here; it does not credit paraphrases.
- MRL reward (0-10) = 10 * (0.4 * BLEU(answer, reference)
                          + 0.4 * cos(answer, reference)
                          + 0.2 * cos(answer, earlier reference turns of the dialogue)).
  The paper names the three parts but not their weights: 0.4/0.4/0.2 weights the reference
  most and coherence with the history least; the first turn (no history) uses 0.5/0.5/0.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")

REWARD_WEIGHTS = (0.4, 0.4, 0.2)  # BLEU, cosine to the reference, cosine to the history
FIRST_TURN_WEIGHTS = (0.5, 0.5, 0.0)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def perplexity(total_nll: float, tokens: int) -> float:
    """exp(mean negative log-likelihood per token)."""
    if tokens <= 0:
        raise ValueError("perplexity needs at least one token")
    return math.exp(total_nll / tokens)


def bleu(candidate: str | Sequence[str], reference: str | Sequence[str], max_n: int = 4) -> float:
    cand = words(candidate) if isinstance(candidate, str) else list(candidate)
    ref = words(reference) if isinstance(reference, str) else list(reference)
    if not cand or not ref:
        return 0.0
    n_max = min(max_n, len(cand), len(ref))
    log_precision = 0.0
    for n in range(1, n_max + 1):
        c_grams, r_grams = _ngrams(cand, n), _ngrams(ref, n)
        matches = sum(min(count, r_grams[g]) for g, count in c_grams.items())
        total = max(sum(c_grams.values()), 1)
        if n == 1:
            if matches == 0:
                return 0.0
            precision = matches / total
        else:
            precision = (matches + 1) / (total + 1)
        log_precision += math.log(precision) / n_max
    brevity = 1.0 if len(cand) >= len(ref) else math.exp(1 - len(ref) / len(cand))
    return brevity * math.exp(log_precision)


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def cosine(a: str | Iterable[str], b: str | Iterable[str]) -> float:
    """Cosine of bag-of-words count vectors; 0.0 when either side is empty."""
    va = Counter(words(a) if isinstance(a, str) else a)
    vb = Counter(words(b) if isinstance(b, str) else b)
    dot = sum(count * vb[w] for w, count in va.items())
    norm = math.sqrt(sum(c * c for c in va.values())) * math.sqrt(sum(c * c for c in vb.values()))
    return dot / norm if norm else 0.0


def mrl_reward(answer: str, reference: str, history: Sequence[str] = ()) -> float:
    """The 0-10 reward of one generated answer (weights in the module docstring)."""
    w_bleu, w_ref, w_hist = REWARD_WEIGHTS if history else FIRST_TURN_WEIGHTS
    hist = cosine(answer, " ".join(history)) if history else 0.0
    return 10.0 * (w_bleu * bleu(answer, reference) + w_ref * cosine(answer, reference) + w_hist * hist)


def recalled(answer: str, value: str) -> bool:
    """The asked fact's value appears in the answer (case-insensitive, on word boundaries)."""
    target = " ".join(words(value))
    return bool(target) and f" {target} " in f" {' '.join(words(answer))} "


@dataclass
class HitRates:
    """Hits out of totals per key: a distance in turns, a fact kind."""

    hits: Counter = field(default_factory=Counter)
    totals: Counter = field(default_factory=Counter)

    def add(self, key, hit: bool) -> None:
        self.totals[key] += 1
        self.hits[key] += int(hit)

    def accuracy(self, key) -> float:
        return self.hits[key] / self.totals[key] if self.totals[key] else float("nan")

    def overall(self) -> float:
        total = sum(self.totals.values())
        return sum(self.hits.values()) / total if total else float("nan")

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {
            str(k): {"hits": self.hits[k], "total": self.totals[k], "accuracy": self.accuracy(k)}
            for k in sorted(self.totals)
        }


@dataclass
class RecallByDistance(HitRates):
    """Fact-recall accuracy per distance (in turns since the fact was last mentioned)."""

    def overall(self, lo: int = 1, hi: int | None = None) -> float:
        keys = [d for d in self.totals if d >= lo and (hi is None or d <= hi)]
        total = sum(self.totals[d] for d in keys)
        return sum(self.hits[d] for d in keys) / total if total else float("nan")
