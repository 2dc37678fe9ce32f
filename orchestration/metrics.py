"""Service metrics, exported in Prometheus form by Ray's metrics agent.

`Metrics` is the no-op interface the plain logic classes call; deployments pass `RayMetrics`,
which records through `ray.serve.metrics` (each series is tagged with its deployment, replica
and application). Ray prefixes every name with `ray_`, e.g. `ray_rxt_time_to_first_token_seconds`.

| metric | kind | what |
|---|---|---|
| rxt_time_to_first_token_seconds | histogram | turn admitted -> first token (includes memory wait) |
| rxt_generated_tokens_total | counter | answer tokens streamed (tokens/s = its rate) |
| rxt_decode_tokens_per_second | gauge | tokens of the last decode step / its duration, per replica |
| rxt_turn_tokens_per_second | histogram | one turn's answer tokens / its decode time |
| rxt_turns_total{outcome} | counter | completed / cancelled turns |
| rxt_decode_queue_depth | gauge | turns waiting for a batch slot |
| rxt_decode_batch_size | histogram | rows per decode step |
| rxt_memory_wait_seconds | histogram | time a turn waited for the previous turn's memory update |
| rxt_memory_update_lag_seconds | histogram | turn logged -> its memory version committed |
| rxt_memory_updates_total{outcome} | counter | committed / refused updates (refused: version conflicts) |
| rxt_memory_update_batch_size | histogram | updates per encoder + memory-attention pass |
| rxt_stm_cache_hits_total, rxt_stm_cache_misses_total | counter | decoder STM cache |
"""

from __future__ import annotations

from .scheduler import StepStats

SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]
SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
RATES = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500]


class Metrics:
    """Records nothing: what the logic classes use outside a Serve replica."""

    def first_token(self, seconds: float) -> None: ...
    def turn(self, outcome: str, tokens: int, decode_seconds: float = 0.0) -> None: ...
    def decode_step(self, stats: StepStats) -> None: ...
    def memory_wait(self, seconds: float) -> None: ...
    def memory_update(self, lag_seconds: float, ok: bool) -> None: ...
    def update_batch(self, size: int) -> None: ...
    def cache(self, hit: bool) -> None: ...


class RayMetrics(Metrics):
    def __init__(self) -> None:
        from ray.serve.metrics import Counter, Gauge, Histogram

        self._ttft = Histogram(
            "rxt_time_to_first_token_seconds", "Turn admitted to first answer token.", boundaries=SECONDS
        )
        self._tokens = Counter("rxt_generated_tokens_total", "Answer tokens streamed.")
        self._step_rate = Gauge("rxt_decode_tokens_per_second", "Tokens per second of the last decode step.")
        self._turn_rate = Histogram(
            "rxt_turn_tokens_per_second", "One turn's answer tokens per second of decoding.", boundaries=RATES
        )
        self._turns = Counter("rxt_turns_total", "Turns by outcome.", tag_keys=("outcome",))
        self._queue = Gauge("rxt_decode_queue_depth", "Turns waiting for a decode batch slot.")
        self._batch = Histogram("rxt_decode_batch_size", "Rows per decode step.", boundaries=SIZES)
        self._wait = Histogram(
            "rxt_memory_wait_seconds",
            "Time a turn waited for the previous memory update.",
            boundaries=SECONDS,
        )
        self._lag = Histogram(
            "rxt_memory_update_lag_seconds",
            "Turn logged to its memory version committed.",
            boundaries=SECONDS,
        )
        self._updates = Counter(
            "rxt_memory_updates_total", "Memory updates by outcome.", tag_keys=("outcome",)
        )
        self._update_batch = Histogram(
            "rxt_memory_update_batch_size", "Memory updates per batched pass.", boundaries=SIZES
        )
        self._hits = Counter("rxt_stm_cache_hits_total", "Turns whose STM was in the replica cache.")
        self._misses = Counter("rxt_stm_cache_misses_total", "Turns whose STM was loaded from the store.")

    def first_token(self, seconds: float) -> None:
        self._ttft.observe(seconds)

    def turn(self, outcome: str, tokens: int, decode_seconds: float = 0.0) -> None:
        self._turns.inc(tags={"outcome": outcome})
        if tokens:
            self._tokens.inc(tokens)
        if outcome == "completed" and tokens and decode_seconds > 0:
            self._turn_rate.observe(tokens / decode_seconds)

    def decode_step(self, stats: StepStats) -> None:
        self._queue.set(stats.waiting)
        self._batch.observe(stats.batch_size)
        if stats.seconds > 0:
            self._step_rate.set(stats.batch_size / stats.seconds)

    def memory_wait(self, seconds: float) -> None:
        self._wait.observe(seconds)

    def memory_update(self, lag_seconds: float, ok: bool) -> None:
        self._lag.observe(lag_seconds)
        self._updates.inc(tags={"outcome": "committed" if ok else "refused"})

    def update_batch(self, size: int) -> None:
        self._update_batch.observe(size)

    def cache(self, hit: bool) -> None:
        (self._hits if hit else self._misses).inc()
