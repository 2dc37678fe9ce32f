"""Latency benchmark: what a user waits for, RxT vs the stateless baseline, turn after turn.

Every turn both models answer the same fixed-length query with exactly `answer_len` tokens:
RxT reads its fixed-size STM (and updates it afterwards, off the user's path), the stateless
model re-reads the whole `[Q]..[A]..[EOS]` history. Measurements are interleaved (RxT,
stateless, stateless, RxT, ...) so noise from other jobs on a shared machine hits both, and each
figure is the median of `repeats`. Also measured: RxT tokens/s by batch size, a bare
matrix-product pass over the active decode weights (the floor decoding cannot beat), and
bf16 weights against fp32.

Every time is wall-clock (what a user waits for) and, beside it, the process's CPU time: on a
machine shared with other jobs the wall time also counts waiting for a core, the CPU time of a
1-thread run does not.

Answers are forced to their full length by zeroing the EOS row of the (tied) embedding: with
random weights EOS then always scores 0 while the best of the other logits is positive, so
greedy decoding never stops early; every answer's length is checked anyway.
"""

from __future__ import annotations

import copy
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from .config import RxTConfig, preset
from .model import ReactiveTransformer
from .precision import WRITE_DTYPES, WritePrecision, write_dtype
from .sampling import SamplingParams
from .stateless import StatelessLM

log = logging.getLogger(__name__)

INTERACTION_MARKERS = 3  # [Q], [A], [EOS]


@dataclass(frozen=True)
class LatencyBenchConfig:
    preset: str = "bench-22m"
    turns: int = 64
    query_len: int = 32
    answer_len: int = 32
    repeats: int = 3
    # after the turn loop, turns 1 and N run again this many times each, alternated: their ratio
    # is a target, and a VM whose speed drifts over the loop's minutes would otherwise decide it
    endpoint_repeats: int = 9
    warmup: int = 2
    threads: int = 2
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    dtype_repeats: int = 5
    compare_bf16: bool = True
    seed: int = 0
    device: str = "cpu"  # "cuda": on the GPU, generation and updates under bf16 autocast
    write_precision: WritePrecision = (
        "auto"  # memory updates: bf16 where the hardware has it (rxt_core.precision)
    )
    compile_writes: bool = False  # also time the batch-1 update through torch.compile
    # RxTConfig fields over the preset, e.g. {"memory_attention": "simple", "memory_write": "keep"}
    # to time the bundled model's memory design at the preset's shapes
    overrides: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- timing helpers
@dataclass
class StreamTiming:
    """One streamed answer: time to first token, whole answer, and the mean gap between tokens."""

    ttft_ms: float
    total_ms: float
    ttft_cpu_ms: float
    total_cpu_ms: float
    tokens: list[int] = field(repr=False)

    @property
    def per_token_ms(self) -> float:
        return (self.total_ms - self.ttft_ms) / max(len(self.tokens) - 1, 1)

    @property
    def per_token_cpu_ms(self) -> float:
        return (self.total_cpu_ms - self.ttft_cpu_ms) / max(len(self.tokens) - 1, 1)


def _clocks() -> tuple[float, float]:
    """Wall and CPU time in ms; waits for queued GPU work first, so a GPU time is the work's."""
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter() * 1e3, time.process_time() * 1e3


def time_stream(tokens: Iterable) -> StreamTiming:
    """Consume a token stream, timing it from the call that created it (pass the generator
    unstarted: its first `next` does the prompt phase)."""
    start = _clocks()
    first, out = None, []
    for token in tokens:
        if first is None:
            first = _clocks()
        out.append(token)
    end = _clocks()
    first = end if first is None else first
    return StreamTiming(first[0] - start[0], end[0] - start[0], first[1] - start[1], end[1] - start[1], out)


class Timed(NamedTuple):
    ms: float
    cpu_ms: float
    result: object


def time_call(fn: Callable[[], object]) -> Timed:
    start = _clocks()
    result = fn()
    end = _clocks()
    return Timed(end[0] - start[0], end[1] - start[1], result)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def interleaved(repeat: int, first: Callable[[], None], second: Callable[[], None]) -> None:
    """Alternate which side runs first so slow drifts of machine load cancel out."""
    for fn in (first, second) if repeat % 2 == 0 else (second, first):
        fn()


# ----------------------------------------------------------------------------- models
def force_full_answers(model: ReactiveTransformer | StatelessLM) -> None:
    """Zero the EOS row of the tied embedding / LM head so greedy decoding never emits EOS."""
    if not model.config.tie_embeddings:
        raise ValueError("force_full_answers needs tied embeddings")
    with torch.no_grad():
        model.embedding.weight[model.config.eos_id].zero_()


def stateless_config(config: RxTConfig, turns: int, query_len: int, answer_len: int) -> RxTConfig:
    """The same blocks with a RoPE table long enough for `turns` turns of history (the preset's
    positions hold only a few turns): history + prompt + answer + 1 must fit."""
    per_turn = query_len + answer_len + INTERACTION_MARKERS
    needed = (turns - 1) * per_turn + query_len + 2 + answer_len + 1
    return config.model_copy(update={"max_seq_len": max(config.max_seq_len, needed)})


def build_models(bench: LatencyBenchConfig) -> tuple[ReactiveTransformer, StatelessLM]:
    """RxT from the preset, and a StatelessLM sharing its embedding, self-attention, FFN and norm
    weights (everything but memory cross-attention)."""
    torch.manual_seed(bench.seed)
    config = preset(bench.preset, **bench.overrides)
    if bench.query_len + 2 + bench.answer_len + 1 > config.max_seq_len:
        raise ValueError(
            f"a {bench.query_len}-token query and {bench.answer_len}-token answer do not fit the "
            f"{config.max_seq_len} positions of preset {bench.preset!r}"
        )
    rxt = ReactiveTransformer(config).eval()
    force_full_answers(rxt)
    stateless = StatelessLM(stateless_config(config, bench.turns, bench.query_len, bench.answer_len)).eval()
    shared = stateless.state_dict()
    stateless.load_state_dict({k: v for k, v in rxt.state_dict().items() if k in shared})
    return rxt.to(bench.device), stateless.to(bench.device)


def random_queries(config: RxTConfig, count: int, length: int, generator: torch.Generator) -> list[list[int]]:
    """Ordinary (non-special) token ids."""
    first = max(
        config.pad_id, config.bos_id, config.eos_id, config.query_id, config.answer_id, config.mask_id
    )
    ids = torch.randint(first + 1, config.vocab_size, (count, length), generator=generator)
    return ids.tolist()


# ----------------------------------------------------------------------------- per-turn latency
@dataclass
class TurnResult:
    turn: int
    rxt_ttft_ms: float
    rxt_total_ms: float
    rxt_per_token_ms: float
    rxt_update_ms: float
    rxt_tokens: int
    stateless_prompt_tokens: int
    stateless_ttft_ms: float
    stateless_total_ms: float
    stateless_per_token_ms: float
    stateless_tokens: int
    # the same, in CPU time of the process
    rxt_cpu_ttft_ms: float
    rxt_cpu_total_ms: float
    rxt_cpu_per_token_ms: float
    rxt_cpu_update_ms: float
    stateless_cpu_ttft_ms: float
    stateless_cpu_total_ms: float


class TurnInputs(NamedTuple):
    """What one turn of the dialogue starts from: RxT's memory, the stateless history, the query."""

    stm: torch.Tensor
    history: list[tuple[list[int], list[int]]]
    query: list[int]


def measure_turns(
    rxt: ReactiveTransformer, stateless: StatelessLM, bench: LatencyBenchConfig
) -> tuple[list[TurnResult], TurnInputs, TurnInputs]:
    """N turns of one dialogue on both models, interleaved; medians over `repeats` per turn.
    RxT's memory follows its own answers, the stateless history holds the stateless answers.
    Also returns the inputs of turns 1 and N, for `measure_endpoints`."""
    generator = torch.Generator().manual_seed(bench.seed)
    queries = random_queries(rxt.config, bench.turns, bench.query_len, generator)
    stm = rxt.init_memory(1)
    history: list[tuple[list[int], list[int]]] = []
    for _ in range(bench.warmup):
        _measure_turn(rxt, stateless, stm, [], queries[0], bench, turn=0)

    results, inputs = [], []
    for turn, query in enumerate(queries, start=1):
        inputs.append(TurnInputs(stm, list(history), query))
        result, stm, stateless_answer = _measure_turn(rxt, stateless, stm, history, query, bench, turn)
        _check_length(result, bench.answer_len)
        results.append(result)
        history.append((query, stateless_answer))
        log.info(
            "turn %d: RxT %.1f ms (update %.1f ms), stateless %.1f ms over %d prompt tokens",
            turn, result.rxt_total_ms, result.rxt_update_ms, result.stateless_total_ms,
            result.stateless_prompt_tokens,
        )  # fmt: skip
    return results, inputs[0], inputs[-1]


@dataclass
class EndpointResult:
    """Turns 1 and N run again after the loop, alternated run by run (1, N, N, 1, ...) on each
    model: medians of `runs` runs each. The loop times turn 1 minutes before turn N, so on a VM
    whose speed drifts its ratio measures the drift as much as the turns; these do not."""

    turn: int  # N
    runs: int
    rxt_first_ms: float
    rxt_last_ms: float
    stateless_first_ms: float
    stateless_last_ms: float
    rxt_cpu_first_ms: float
    rxt_cpu_last_ms: float
    stateless_cpu_first_ms: float
    stateless_cpu_last_ms: float


def measure_endpoints(
    rxt: ReactiveTransformer,
    stateless: StatelessLM,
    first: TurnInputs,
    last: TurnInputs,
    bench: LatencyBenchConfig,
) -> EndpointResult:
    sampling = SamplingParams(max_new_tokens=bench.answer_len)
    runs: dict[str, list[StreamTiming]] = {"rxt_first": [], "rxt_last": [], "sl_first": [], "sl_last": []}

    def rxt_turn(name: str, inputs: TurnInputs) -> Callable[[], None]:
        return lambda: runs[name].append(time_stream(rxt.interact(inputs.query, inputs.stm, sampling)))

    def stateless_turn(name: str, inputs: TurnInputs) -> Callable[[], None]:
        return lambda: runs[name].append(
            time_stream(stateless.interact(inputs.query, inputs.history, sampling))
        )

    for repeat in range(bench.endpoint_repeats):
        interleaved(repeat, rxt_turn("rxt_first", first), rxt_turn("rxt_last", last))
        interleaved(repeat + 1, stateless_turn("sl_first", first), stateless_turn("sl_last", last))
    for name, timings in runs.items():
        if any(len(t.tokens) != bench.answer_len for t in timings):
            raise RuntimeError(f"{name}: an answer was not {bench.answer_len} tokens long")

    def wall(name: str) -> float:
        return median(t.total_ms for t in runs[name])

    def cpu(name: str) -> float:
        return median(t.total_cpu_ms for t in runs[name])

    return EndpointResult(
        turn=bench.turns,
        runs=bench.endpoint_repeats,
        rxt_first_ms=wall("rxt_first"),
        rxt_last_ms=wall("rxt_last"),
        stateless_first_ms=wall("sl_first"),
        stateless_last_ms=wall("sl_last"),
        rxt_cpu_first_ms=cpu("rxt_first"),
        rxt_cpu_last_ms=cpu("rxt_last"),
        stateless_cpu_first_ms=cpu("sl_first"),
        stateless_cpu_last_ms=cpu("sl_last"),
    )


def _measure_turn(
    rxt: ReactiveTransformer,
    stateless: StatelessLM,
    stm: torch.Tensor,
    history: list[tuple[list[int], list[int]]],
    query: list[int],
    bench: LatencyBenchConfig,
    turn: int,
) -> tuple[TurnResult, torch.Tensor, list[int]]:
    """One turn, `repeats` times on each model; returns the result, RxT's next STM and the
    stateless model's answer."""
    sampling = SamplingParams(max_new_tokens=bench.answer_len)
    rxt_runs: list[StreamTiming] = []
    stateless_runs: list[StreamTiming] = []

    def run_rxt() -> None:
        rxt_runs.append(time_stream(rxt.interact(query, stm, sampling)))

    def run_stateless() -> None:
        stateless_runs.append(time_stream(stateless.interact(query, history, sampling)))

    for repeat in range(bench.repeats):
        interleaved(repeat, run_rxt, run_stateless)
    answer = rxt_runs[-1].tokens
    updates = [
        time_call(lambda: rxt.update_memory(stm, query, answer, bench.write_precision))
        for _ in range(bench.repeats)
    ]
    result = TurnResult(
        turn=turn,
        rxt_ttft_ms=median(r.ttft_ms for r in rxt_runs),
        rxt_total_ms=median(r.total_ms for r in rxt_runs),
        rxt_per_token_ms=median(r.per_token_ms for r in rxt_runs),
        rxt_update_ms=median(u.ms for u in updates),
        rxt_tokens=len(answer),
        stateless_prompt_tokens=len(stateless.history_prompt(history, query)),
        stateless_ttft_ms=median(r.ttft_ms for r in stateless_runs),
        stateless_total_ms=median(r.total_ms for r in stateless_runs),
        stateless_per_token_ms=median(r.per_token_ms for r in stateless_runs),
        stateless_tokens=len(stateless_runs[-1].tokens),
        rxt_cpu_ttft_ms=median(r.ttft_cpu_ms for r in rxt_runs),
        rxt_cpu_total_ms=median(r.total_cpu_ms for r in rxt_runs),
        rxt_cpu_per_token_ms=median(r.per_token_cpu_ms for r in rxt_runs),
        rxt_cpu_update_ms=median(u.cpu_ms for u in updates),
        stateless_cpu_ttft_ms=median(r.ttft_cpu_ms for r in stateless_runs),
        stateless_cpu_total_ms=median(r.total_cpu_ms for r in stateless_runs),
    )
    return result, updates[-1].result, stateless_runs[-1].tokens


def _check_length(result: TurnResult, answer_len: int) -> None:
    if result.rxt_tokens != answer_len or result.stateless_tokens != answer_len:
        raise RuntimeError(
            f"turn {result.turn}: answers of {result.rxt_tokens} (RxT) and {result.stateless_tokens} "
            f"(stateless) tokens, expected {answer_len}: latencies would not be comparable"
        )


# ----------------------------------------------------------------------------- batch throughput
@dataclass
class BatchResult:
    batch: int
    prefill_ms: float  # prompt phase of the whole batch (memory K/V + prefill + first token)
    total_ms: float  # whole batched generation of answer_len tokens per row
    step_ms: float  # one decode step of the whole batch
    tokens_per_s: float  # generated tokens of all rows / total time
    decode_tokens_per_s: float  # rows / step time
    update_ms: float  # batched memory update of all rows
    updates_per_s: float
    # the same in CPU time of the process
    cpu_total_ms: float
    cpu_step_ms: float
    cpu_tokens_per_s: float
    cpu_update_ms: float


def measure_batches(rxt: ReactiveTransformer, bench: LatencyBenchConfig) -> list[BatchResult]:
    """Batched `stream` (each row its own STM and query) and batched `update_memory`; batch sizes
    are interleaved inside every repeat."""
    generator = torch.Generator().manual_seed(bench.seed + 1)
    sampling = SamplingParams(max_new_tokens=bench.answer_len)
    inputs = {}
    for batch in bench.batch_sizes:
        queries = random_queries(rxt.config, batch, bench.query_len, generator)
        noise = torch.randn((batch, *rxt.stm_shape), generator=generator) * rxt.config.stm_init_std
        inputs[batch] = (queries, rxt.init_memory(batch) + noise.to(rxt.device))

    def run(batch: int) -> tuple[StreamTiming, Timed]:
        queries, stm = inputs[batch]
        timing = time_stream(rxt.stream(queries, stm, sampling))
        answers = [[5] * bench.answer_len] * batch
        return timing, time_call(lambda: rxt.update_memory(stm, queries, answers, bench.write_precision))

    runs: dict[int, list[tuple[StreamTiming, Timed]]] = {b: [] for b in bench.batch_sizes}
    for _ in range(bench.warmup):  # every size: on a GPU each new shape's first run pays one-time costs
        for batch in bench.batch_sizes:
            run(batch)
    for repeat in range(bench.repeats):
        order = bench.batch_sizes if repeat % 2 == 0 else bench.batch_sizes[::-1]
        for batch in order:
            runs[batch].append(run(batch))
    results = []
    for batch, timings in runs.items():
        for timing, _ in timings:
            if len(timing.tokens) != bench.answer_len:
                raise RuntimeError(f"batch {batch}: {len(timing.tokens)} steps, expected {bench.answer_len}")
        total = median(t.total_ms for t, _ in timings)
        step = median(t.per_token_ms for t, _ in timings)
        update = median(u.ms for _, u in timings)
        cpu_total = median(t.total_cpu_ms for t, _ in timings)
        results.append(
            BatchResult(
                batch=batch,
                prefill_ms=median(t.ttft_ms for t, _ in timings),
                total_ms=total,
                step_ms=step,
                tokens_per_s=batch * bench.answer_len / total * 1e3,
                decode_tokens_per_s=batch / step * 1e3,
                update_ms=update,
                updates_per_s=batch / update * 1e3,
                cpu_total_ms=cpu_total,
                cpu_step_ms=median(t.per_token_cpu_ms for t, _ in timings),
                cpu_tokens_per_s=batch * bench.answer_len / cpu_total * 1e3,
                cpu_update_ms=median(u.cpu_ms for _, u in timings),
            )
        )
        log.info("batch %d: %.0f tokens/s, %.1f ms per step", batch, results[-1].tokens_per_s, step)
    return results


# ----------------------------------------------------------------------------- floor and dtypes
def active_decode_shapes(config: RxTConfig) -> list[tuple[int, int]]:
    """(in, out) of every weight matrix one decode token touches at batch 1: self-attention QKV
    and output, memory cross-attention query and output (its K/V are per turn), the router, the
    top-k routed experts plus shared experts (fused gate|up, down), the LM head."""
    d, hd, heads = config.dim, config.head_dim, config.attention
    q, kv = heads.query_heads * hd, heads.kv_heads * hd
    layer = [(d, q + 2 * kv), (q, d), (d, q), (q, d)]
    if config.decoder_moe:
        moe = config.moe
        layer.append((d, moe.experts))
        layer += [(d, 2 * moe.expert_hidden), (moe.expert_hidden, d)] * (moe.top_k + moe.shared_experts)
    else:
        layer += [(d, 2 * config.decoder_ffn_hidden), (config.decoder_ffn_hidden, d)]
    return layer * config.layers + [(d, config.vocab_size)]


def matmul_floor_ms(config: RxTConfig, dtype: torch.dtype, repeats: int, device: torch.device) -> float:
    """One token's matrix-vector products over distinct weights of the active shapes, nothing
    else: the time a decode step cannot go below without fewer or narrower weights."""
    generator = torch.Generator().manual_seed(0)
    shapes = active_decode_shapes(config)
    weights = [(torch.randn(i, o, generator=generator) * 0.02).to(device, dtype) for i, o in shapes]
    inputs = {i: torch.randn(1, i, generator=generator).to(device, dtype) for i, _ in shapes}

    def one_pass() -> None:
        for w in weights:
            torch.mm(inputs[w.shape[0]], w)

    with torch.inference_mode():
        for _ in range(3):
            one_pass()
        return median(time_call(one_pass).ms for _ in range(max(repeats, 5) * 4))


@dataclass
class DtypeResult:
    dtype: str
    ttft_ms: float
    per_token_ms: float
    update_ms: float
    floor_ms: float


def compare_dtypes(rxt: ReactiveTransformer, bench: LatencyBenchConfig) -> list[DtypeResult]:
    """Batch-1 turn and memory update with fp32 weights (and fp32 writes) and with bf16 weights,
    interleaved."""
    generator = torch.Generator().manual_seed(bench.seed + 2)
    query = random_queries(rxt.config, 1, bench.query_len, generator)[0]
    sampling = SamplingParams(max_new_tokens=bench.answer_len)
    models = {"float32": rxt}
    if bench.compare_bf16:
        models["bfloat16"] = copy.deepcopy(rxt).to(torch.bfloat16)
    stms = {name: m.init_memory(1) for name, m in models.items()}
    runs: dict[str, list[tuple[StreamTiming, float]]] = {name: [] for name in models}

    def run(name: str) -> tuple[StreamTiming, float]:
        model, stm = models[name], stms[name]
        timing = time_stream(model.interact(query, stm, sampling))
        return timing, time_call(lambda: model.update_memory(stm, query, timing.tokens, "fp32")).ms

    names = list(models)
    for _ in range(bench.warmup):
        for name in names:
            run(name)
    for repeat in range(bench.dtype_repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            runs[name].append(run(name))
    return [
        DtypeResult(
            dtype=name,
            ttft_ms=median(t.ttft_ms for t, _ in runs[name]),
            per_token_ms=median(t.per_token_ms for t, _ in runs[name]),
            update_ms=median(u for _, u in runs[name]),
            floor_ms=matmul_floor_ms(rxt.config, getattr(torch, name), bench.dtype_repeats, rxt.device),
        )
        for name in names
    ]


@dataclass
class CompiledUpdateResult:
    precision: str  # what both writes computed in
    eager_ms: float
    compiled_ms: float
    compile_s: float  # torch.compile's one-time cost (warm-up included)


def compare_compiled_update(rxt: ReactiveTransformer, bench: LatencyBenchConfig) -> CompiledUpdateResult:
    """Batch-1 memory update, eager vs `compile_writes`, interleaved on the same inputs."""
    compiled = copy.deepcopy(rxt)
    compile_s = compiled.compile_writes(bench.write_precision, warm_batches=(1,))
    generator = torch.Generator().manual_seed(bench.seed + 4)
    query = random_queries(rxt.config, 1, bench.query_len, generator)[0]
    answer = random_queries(rxt.config, 1, bench.answer_len, generator)[0]
    stm = rxt.init_memory(1)
    models = {"eager": rxt, "compiled": compiled}
    times: dict[str, list[float]] = {name: [] for name in models}
    for repeat in range(bench.warmup + 4 * bench.dtype_repeats):
        for name in list(models) if repeat % 2 == 0 else list(models)[::-1]:
            model = models[name]
            ms = time_call(lambda m=model: m.update_memory(stm, query, answer, bench.write_precision)).ms
            if repeat >= bench.warmup:
                times[name].append(ms)
    precision = write_dtype(bench.write_precision, stm)
    return CompiledUpdateResult(precision, median(times["eager"]), median(times["compiled"]), compile_s)


# ----------------------------------------------------------------------------- memory update cost
MEMORY_VARIANTS = ("simple", "self", "interlayer", "gated-self-interlayer")
GATE_KINDS = ("linear", "per-slot")
SLOT_WRITE = "slot-write"  # in the gate column: the slot-allocating write instead of a residual gate


@dataclass
class UpdateResult:
    memory_attention: str
    gate: str
    precision: str  # what the write computed in (fp32 weights either way)
    update_ms: float
    gflop: float  # matmul + attention FLOPs of one update
    gflops: float  # achieved rate


def _attention_flops(query, key, value, *args, out_val=None, **kwargs) -> int:
    """Q K^T and P V of an SDPA kernel (shapes in): FlopCounterMode does not know the CPU kernel,
    and its formula for the CUDA kernels refuses fewer K/V heads than query heads (GQA, SQA)."""
    batch, heads, q_len, head_dim = query
    return 2 * batch * heads * q_len * key[-2] * (head_dim + value[-1])


def count_flops(fn: Callable[[], object]) -> int:
    aten = torch.ops.aten
    kernels = (
        aten._scaled_dot_product_flash_attention_for_cpu,
        aten._scaled_dot_product_flash_attention,
        aten._scaled_dot_product_efficient_attention,
        aten._scaled_dot_product_cudnn_attention,
    )
    mapping = {kernel: _attention_flops for kernel in kernels}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        fn()
    return counter.get_total_flops()


def gemm_gflops(repeats: int, device: torch.device, dtype: torch.dtype = torch.float32) -> float:
    """Matrix-product rate at the current thread count, on the memory update's largest shape
    (512 slots x [old; update] -> dim): the ceiling any update time is judged against."""
    a, b = (
        torch.randn(512, 512, device=device, dtype=dtype),
        torch.randn(512, 256, device=device, dtype=dtype),
    )
    for _ in range(3):
        a @ b
    ms = median(time_call(lambda: a @ b).ms for _ in range(max(repeats, 5) * 4))
    return 2 * 512 * 512 * 256 / ms / 1e6


def measure_update_variants(bench: LatencyBenchConfig) -> list[UpdateResult]:
    """Batch-1 `update_memory` of every memory-attention variant with a dynamic (linear) and a
    per-slot gate, and with the slot write, each in fp32 and in bf16, interleaved: what each
    choice costs on this machine."""
    base = preset(bench.preset)
    generator = torch.Generator().manual_seed(bench.seed + 3)
    query = random_queries(base, 1, bench.query_len, generator)[0]
    answer = random_queries(base, 1, bench.answer_len, generator)[0]
    models = {}
    for variant in MEMORY_VARIANTS:
        for gate in (*GATE_KINDS, SLOT_WRITE):
            kind, write = (gate, "gated") if gate != SLOT_WRITE else (base.gate.kind, "slot")
            gate_config = base.gate.model_copy(update={"kind": kind})
            config = base.model_copy(
                update={"memory_attention": variant, "gate": gate_config, "memory_write": write}
            )
            models[variant, gate] = ReactiveTransformer(config).eval().to(bench.device)
    stms = {key: model.init_memory(1) for key, model in models.items()}
    keys = [(variant, gate, precision) for variant, gate in models for precision in WRITE_DTYPES]
    times: dict[tuple[str, str, str], list[float]] = {key: [] for key in keys}

    def update(variant: str, gate: str, precision: str) -> torch.Tensor:
        return models[variant, gate].update_memory(stms[variant, gate], query, answer, precision)

    for repeat in range(bench.warmup + bench.dtype_repeats):
        for key in keys if repeat % 2 == 0 else keys[::-1]:
            ms = time_call(lambda k=key: update(*k)).ms
            if repeat >= bench.warmup:
                times[key].append(ms)
    results = []
    for variant, gate, precision in keys:
        flops = count_flops(lambda v=variant, g=gate: update(v, g, "fp32"))
        ms = median(times[variant, gate, precision])
        results.append(UpdateResult(variant, gate, precision, ms, flops / 1e9, flops / ms / 1e6))
    return results


# ----------------------------------------------------------------------------- the whole run
def _first_cpu_fields(names: tuple[str, ...], path: str = "/proc/cpuinfo") -> dict[str, str]:
    """The named fields of the first processor in /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open(path) as f:
            for line in f:
                key, sep, value = line.partition(":")
                key = key.strip()
                if not sep or key not in names or key in fields:
                    continue
                fields[key] = value.strip()
    except OSError:
        pass
    return fields


def machine_info(device: torch.device) -> dict:
    """What the numbers were measured on. These VMs all call themselves "AMD EPYC" or "Intel
    Xeon"; family / model / stepping tell the generations apart (AMD family 25 = Zen 3/4, 26 = Zen 5)."""
    cpuinfo = _first_cpu_fields(("model name", "cpu family", "model", "stepping", "flags"))
    flags = set(cpuinfo.get("flags", "").split())
    return {
        "cpu": cpuinfo.get("model name", platform.processor()),
        "cpu_family": cpuinfo.get("cpu family"),
        "cpu_model": cpuinfo.get("model"),
        "cpu_stepping": cpuinfo.get("stepping"),
        "cpu_count": os.cpu_count(),
        "avx2": "avx2" in flags,
        "avx512f": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }


def summarize(
    turns: list[TurnResult],
    endpoints: EndpointResult,
    batches: list[BatchResult],
    dtypes: list[DtypeResult],
    update_gflop: float,
    gemm_rate: float,
    write_precision: str,
) -> dict:
    first, last = turns[0], turns[-1]
    fp32 = dtypes[0]
    tail = max(1, len(turns) // 8)
    per_token = median(t.rxt_per_token_ms for t in turns)
    update = median(t.rxt_update_ms for t in turns)
    by_batch = {b.batch: b for b in batches}
    ends = endpoints
    summary = {
        # turn N / turn 1, the two alternated after the loop (the target's figure)
        "rxt_turn_ratio": ends.rxt_last_ms / ends.rxt_first_ms,
        "stateless_turn_ratio": ends.stateless_last_ms / ends.stateless_first_ms,
        "rxt_turn_ratio_cpu": ends.rxt_cpu_last_ms / ends.rxt_cpu_first_ms,
        "stateless_turn_ratio_cpu": ends.stateless_cpu_last_ms / ends.stateless_cpu_first_ms,
        # the same from the turn loop, where turn N runs minutes after turn 1
        "rxt_turn_ratio_in_loop": last.rxt_total_ms / first.rxt_total_ms,
        "stateless_turn_ratio_in_loop": last.stateless_total_ms / first.stateless_total_ms,
        # the loop's ratio from the medians of its first and last eighth of the turns
        "rxt_turn_ratio_smoothed": median(t.rxt_total_ms for t in turns[-tail:])
        / median(t.rxt_total_ms for t in turns[:tail]),
        "stateless_turn_ratio_smoothed": median(t.stateless_total_ms for t in turns[-tail:])
        / median(t.stateless_total_ms for t in turns[:tail]),
        "rxt_cpu_per_token_ms": median(t.rxt_cpu_per_token_ms for t in turns),
        "rxt_cpu_update_ms": median(t.rxt_cpu_update_ms for t in turns),
        "rxt_cpu_ttft_ms": median(t.rxt_cpu_ttft_ms for t in turns),
        "rxt_ttft_ms": median(t.rxt_ttft_ms for t in turns),
        "rxt_per_token_ms": per_token,
        "rxt_update_ms": update,
        "rxt_turn_ms": median(t.rxt_total_ms for t in turns),
        "rxt_first_turn_ms": ends.rxt_first_ms,
        "rxt_last_turn_ms": ends.rxt_last_ms,
        "stateless_first_turn_ms": ends.stateless_first_ms,
        "stateless_last_turn_ms": ends.stateless_last_ms,
        "matmul_floor_ms": fp32.floor_ms,
        "per_token_over_floor": per_token / fp32.floor_ms,
        "update_gflop": update_gflop,
        "write_precision": write_precision,  # what the turn loop's updates computed in
        "gemm_gflops": gemm_rate,  # in that dtype
        "update_floor_ms": update_gflop / gemm_rate * 1e3,  # its FLOPs at the matmul rate
    }
    if 1 in by_batch:
        summary["tokens_per_s_vs_batch1"] = {
            b.batch: b.tokens_per_s / by_batch[1].tokens_per_s for b in batches
        }
        summary["cpu_tokens_per_s_vs_batch1"] = {
            b.batch: b.cpu_tokens_per_s / by_batch[1].cpu_tokens_per_s for b in batches
        }
    targets = {
        "rxt_turn_ratio<=1.05": summary["rxt_turn_ratio"] <= 1.05,
        "per_token_ms<=5": per_token <= 5.0,
        "update_ms<=15": update <= 15.0,
    }
    if 1 in by_batch and 32 in by_batch:
        targets["tokens_per_s_batch32>=8x_batch1"] = by_batch[32].tokens_per_s >= 8 * by_batch[1].tokens_per_s
    summary["targets_met"] = targets
    return summary


def run_benchmark(bench: LatencyBenchConfig) -> dict:
    """The whole benchmark as a JSON-ready dict."""
    torch.set_num_threads(bench.threads)
    load_start = os.getloadavg()
    rxt, stateless = build_models(bench)
    log.info(
        "per-turn latency over %d turns (stateless positions: %d)", bench.turns, stateless.config.max_seq_len
    )
    turns, first, last = measure_turns(rxt, stateless, bench)
    log.info("turns 1 and %d again, alternated %d times each", bench.turns, bench.endpoint_repeats)
    endpoints = measure_endpoints(rxt, stateless, first, last, bench)
    load_turns = os.getloadavg()
    log.info("tokens/s by batch size %s", bench.batch_sizes)
    batches = measure_batches(rxt, bench) if bench.batch_sizes else []
    log.info("fp32 vs bf16 weights and the matmul floor")
    dtypes = compare_dtypes(rxt, bench)
    log.info("memory update of every variant and gate")
    updates = measure_update_variants(bench)
    compiled = None
    if bench.compile_writes:
        log.info("memory update: eager vs torch.compile")
        compiled = compare_compiled_update(rxt, bench)
    generator = torch.Generator().manual_seed(bench.seed)
    query = random_queries(rxt.config, 1, bench.query_len, generator)[0]
    answer = random_queries(rxt.config, 1, bench.answer_len, generator)[0]
    update_gflop = count_flops(lambda: rxt.update_memory(rxt.init_memory(1), query, answer, "fp32")) / 1e9
    precision = write_dtype(bench.write_precision, rxt.init_memory(1))
    gemm_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    gemm_rate = gemm_gflops(bench.dtype_repeats, rxt.device, gemm_dtype)
    return {
        "config": asdict(bench),
        "model": {
            "preset": bench.preset,
            "parameters": sum(p.numel() for p in rxt.parameters()),
            "rxt_max_seq_len": rxt.config.max_seq_len,
            "stateless_max_seq_len": stateless.config.max_seq_len,
            "memory_attention": rxt.config.memory_attention,
            "memory_write": rxt.config.memory_write,
            "gate": rxt.config.gate.kind,
            "overrides": bench.overrides,
        },
        "machine": machine_info(rxt.device),
        "loadavg": {"start": load_start, "after_turns": load_turns, "end": os.getloadavg()},
        "summary": summarize(turns, endpoints, batches, dtypes, update_gflop, gemm_rate, precision),
        "turns": [asdict(t) for t in turns],
        "endpoints": asdict(endpoints),
        "batches": [asdict(b) for b in batches],
        "dtypes": [asdict(d) for d in dtypes],
        "update_variants": [asdict(u) for u in updates],
        "compiled_update": asdict(compiled) if compiled is not None else None,
    }
