"""Stage 4's `ack_noise`: fallible acknowledgements written to memory, the decoder's targets kept."""

from __future__ import annotations

import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.ack_noise import noisy_acknowledgements
from rxt_core.training.batching import TokenBatch
from rxt_core.training.config import LoopConfig, MemoryAwareConfig
from rxt_core.training.loop import Runtime, train
from rxt_core.training.memory_aware import MemoryAwareStage


def interactions(rows: list[list[int]]) -> TokenBatch:
    width = max(map(len, rows))
    ids = torch.tensor([row + [0] * (width - len(row)) for row in rows])
    mask = ids != 0
    return TokenBatch(ids, mask, mask[:, 1:].clone(), torch.ones(len(rows), dtype=torch.bool))


def test_only_answer_tokens_repeating_the_query_are_replaced(config):
    """[Q] 20 21 [A] 20 30 21 [EOS]: at rate 1 the answer's 20 and 21 become other ordinary
    tokens; the query, the answer's own word 30, the markers and the padding stay."""
    batch = interactions([[3, 20, 21, 4, 20, 30, 21, 2], [3, 40, 4, 50, 2]])
    noisy = noisy_acknowledgements(batch, config, 1.0, torch.Generator().manual_seed(0))
    changed = noisy != batch.ids
    assert changed[0].tolist() == [False] * 4 + [True, False, True, False]
    assert not changed[1].any()
    assert (noisy[changed] > config.mask_id).all()  # ordinary tokens, never a special one
    assert torch.equal(noisy_acknowledgements(batch, config, 0.0, torch.Generator()), batch.ids)


def test_the_rate_is_the_share_of_copies_replaced(config):
    batch = interactions([[3, *range(10, 60), 4, *range(10, 60), 2]] * 20)  # 1,000 copies
    noisy = noisy_acknowledgements(batch, config, 0.3, torch.Generator().manual_seed(1))
    share = float((noisy != batch.ids).sum()) / 1000
    assert 0.25 < share < 0.35, share


def test_stage_four_writes_the_noisy_acknowledgements_and_decodes_the_reference(
    pointer_config,
    token_dialogues,
    tmp_path,
):
    """Every turn the decoder reads the reference interaction, and the write that follows reads the
    same interaction with (at rate 1) every answer token that repeats its query replaced."""
    from rxt_core.training.copy_targets import copied_tokens

    torch.manual_seed(0)
    model = ReactiveTransformer(pointer_config)
    seen: list[torch.Tensor] = []
    model.embedding.register_forward_hook(lambda _m, args, _out: seen.append(args[0].clone()))
    cfg = LoopConfig(steps=1, batch_size=4, lr=1e-3, warmup_steps=1, log_every=100)
    stage = MemoryAwareStage(model, token_dialogues, cfg, MemoryAwareConfig(ack_noise=1.0))
    train(stage, cfg, Runtime(tmp_path, progress=False))

    pairs = list(zip(seen[0::2], seen[1::2], strict=False))  # (decoded, written) per turn
    assert len(pairs) >= 2
    replaced = 0
    for decoded, written in pairs:
        copies = copied_tokens(decoded, decoded != 0, pointer_config)
        assert torch.equal(written != decoded, copies)
        replaced += int(copies.sum())
    assert replaced > 0  # the dialogues' answers do repeat their queries
