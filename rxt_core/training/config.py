"""Typed settings of a training run: the shared loop, the per-stage knobs, and a whole job."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TrainPrecision = Literal["fp32", "bf16", "auto"]
StageName = Literal["1", "2", "3", "4", "baseline"]
STAGE_DIRS: dict[str, str] = {
    "1": "stage1-joint-lm",
    "2": "stage2-interaction-sft",
    "3": "stage3-memory-pretrain",
    "4": "stage4-memory-aware",
    "baseline": "baseline",
}


class LoopConfig(BaseModel):
    """The optimisation loop every stage shares."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: int = Field(100, ge=1)
    batch_size: int = Field(16, ge=1)  # global: split across data-parallel workers
    lr: float = Field(1e-3, gt=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = Field(20, ge=0)
    weight_decay: float = Field(0.01, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    seed: int = Field(0, ge=0)
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(50, ge=1)
    # A time budget: stop (with a checkpoint) once the stage has trained this long, resumes
    # included. The warm-up + cosine schedule then runs over whichever ends first, steps or
    # time, so a budget-limited run still anneals. None: steps alone.
    max_seconds: float | None = Field(None, gt=0)
    # What the forward and backward passes compute in: "bf16" runs them under bf16 autocast
    # (weights, gradients and optimizer state stay fp32); "auto" is bf16 on CUDA, fp32 on a CPU:
    # even with AMX, the bundled nano model's stage 4 trained 2.5x slower under bf16 autocast
    # (1,233 vs 3,183 tokens/s, 2 threads, Intel Xeon with amx_bf16, session 10).
    precision: TrainPrecision = "fp32"


class JointConfig(BaseModel):
    """Stages 1-2: L = alpha * L_AR + beta * L_MLM + moe_aux_weight * L_aux. The decoder reads
    the encoder's detached layer states plus Gaussian noise of `noise_std` times their std."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alpha: float = 1.0
    beta: float = 0.5
    mask_prob: float = Field(0.15, gt=0, lt=1)
    noise_std: float = Field(0.5, ge=0)
    swap_prob: float = Field(0.0, ge=0, le=1)
    """Fraction of rows whose decoder reads another row's encoder states (ours, not the paper's).
    With only its own row's states the decoder learns to read the answer off its memory and
    never to copy from its own context, which later turns need: those rows must."""
    copy_weight: float = Field(1.0, ge=1)
    """Loss weight of answer tokens whose id also occurs in the row's query (1: no extra weight;
    ours). Models finish an unseen value copied from the query the way a familiar word goes on
    (session 14): these are the targets where copying must beat the language model's prior.
    L_AR becomes the weighted mean; `ar_loss` is still logged unweighted."""


class MemoryPretrainConfig(BaseModel):
    """Stage 3: w_t = first_weight for the first interaction, then
    max(min_weight, second_weight - decay * (t - 1)), each jittered by U(-jitter, +jitter)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_weight: float = 0.9
    second_weight: float = 0.5
    decay: float = 0.05
    min_weight: float = 0.05
    jitter: float = 0.1


class MemoryAwareConfig(BaseModel):
    """Stage 4. `bptt_turns` K: the loss of a turn back-propagates through at most the last K
    memory updates before it (truncated BPTT: the STM is detached every K updates); K = 0: through
    every earlier update of the dialogue. Exact semantics in memory_aware.py. The decoder trains
    from step 0; memory attention and encoder are frozen until the given steps (the paper's
    gradual unfreezing). `replay_weight` > 0 adds our replay loss (not in the paper): right
    after writing I_t into STM_t, the decoder re-reads the whole of I_t from STM_t — a short,
    direct gradient path that teaches the write to keep tokens and the decoder to read them.
    `replay_depth` D > 1 re-reads I_{t-k} instead, k drawn per turn from 0..min(t, D-1): the
    write of I_t must then also keep what earlier interactions left in memory (retention).
    `overlap_weight` λ > 0 (ours, session 6) adds λ times the mean product of consecutive turns'
    write weights (write_retention.py): writing over the entries the previous turn has just
    written is what loses most of a fact one turn later. `sparsity_weight` μ > 0 adds μ times
    the mean w·(1 - w) of the write weights: writes of 0 or 1 per entry instead of a thin mix
    everywhere (with the overlap penalty alone the model wrote 4x less per turn instead)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bptt_turns: int = Field(0, ge=0)
    unfreeze_memory_attention_step: int = Field(0, ge=0)
    unfreeze_encoder_step: int = Field(0, ge=0)
    replay_weight: float = Field(0.0, ge=0)
    replay_depth: int = Field(1, ge=1)
    overlap_weight: float = Field(0.0, ge=0)
    sparsity_weight: float = Field(0.0, ge=0)
    recall_weight: float = Field(1.0, ge=1)
    """Loss weight of answer tokens whose id occurs in an earlier interaction of the dialogue and
    not in the turn's own query: what only memory can supply (1: a plain mean; ours). Stage 2's
    `copy_weight` for memory instead of the query."""
    read_weight: float = Field(0.0, ge=0)
    """Weight of read supervision (read_supervision.py; ours): the decoder's memory read at an
    answer token recalled from an earlier turn is pushed towards the slots where the write put
    that turn's tokens of the same id. Needs the slot write (0: off)."""
    keep_weight: float = Field(0.0, ge=0)
    """Weight of the keep write's salience loss (keep_targets.py; ours, session 20): binary
    cross-entropy towards "a later answer repeats this token". Needs the keep write (0: off)."""
    keep_positive_weight: float = Field(8.0, ge=1)
    """How much more a missed positive costs than a kept negative in that loss: the head keeps a
    token when P(a later answer repeats it) > 1 / (1 + this)."""
    pointer_weight: float = Field(0.0, ge=0)
    """Weight of pointer supervision (pointer_targets.py; ours, session 25): -log of the memory
    pointer's probability of a recalled value token that a slot holds (with pointer_reads_query,
    also of a value copied from the turn's own query). Needs memory_pointer (0: off)."""
    gate_target: Literal["values", "better", "query"] = "values"
    """What the copy gate's binary cross-entropy (part of pointer supervision) pushes it towards at
    each answer token: "values", 1 at recalled value tokens a slot holds, else 0 (session 25);
    "better", c / (c + h), the pointer's probability c of the target token against the vocabulary
    head's h (session 26): open where copying says the right token more surely than the head, shut
    where the pointer points at the wrong slot, whatever the token is; "query", 1 at the answer
    tokens copied from the turn's own query that a slot holds and told nothing elsewhere (session 29:
    a query-reading pointer's gate opens on acknowledgements, recalls are left to the mixture's loss)."""
    ack_noise: float = Field(0.0, ge=0, le=1)
    """Probability that an answer token repeating a token of its own query is written to memory
    as a random token instead (the decoder's targets keep the reference; ack_noise.py; ours,
    session 30): acknowledgements as fallible as the model's own, so the pointer can learn whose
    copy of a value to trust (0: off)."""
    train_only: tuple[str, ...] = ()
    """Parameter-name prefixes that train (e.g. "pointer.gate."); every other parameter stays
    frozen. Empty: all train, on the unfreeze schedule above. Why: retraining one small part of a
    trained model (the gate) measures that part's recipe without more training of the rest, and
    costs about a forward pass a step."""


class TrainJob(BaseModel):
    """Everything one `rxt train` invocation needs; plain data so Ray can ship it to workers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: StageName
    data: list[str]  # dialogue files (stages 2-4, baseline); stage 1 also reads plain text
    tokenizer: str
    out: str
    preset: str = "nano"
    config_overrides: dict = Field(default_factory=dict)  # RxTConfig fields over the preset
    init: str | None = None  # model folder to start from (default: the previous stage's output)
    reinit: list[str] = Field(default_factory=list)  # parameter-name prefixes of `init` to start fresh
    baseline_layers: int | None = None  # default: the fewest layers with >= 1.5x RxT's parameters
    baseline_max_seq_len: int = 1024
    loop: LoopConfig = LoopConfig()
    joint: JointConfig = JointConfig()
    memory_pretrain: MemoryPretrainConfig = MemoryPretrainConfig()
    memory_aware: MemoryAwareConfig = MemoryAwareConfig()
    resume: bool = False
    threads: int = Field(1, ge=1)  # torch intra-op threads per process
    device: str = "auto"  # "auto": CUDA when available (Ray Train: the worker's GPU), else CPU
    max_dialogues: int | None = None
