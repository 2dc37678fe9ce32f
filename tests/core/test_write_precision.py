"""Memory writes in bf16 (where the CPU or GPU multiplies bf16 in hardware) or fp32: the STM keeps
its dtype, bf16 stays close to fp32, and "auto" picks bf16 exactly where the hardware has it and
the write is large enough to gain from it."""

import math
from pathlib import Path

import pytest
import torch

from rxt_core import ReactiveTransformer, preset
from rxt_core.precision import BF16_MIN_STM_ELEMENTS, has_fast_bf16

from .conftest import random_stm

QUERIES, ANSWERS = [[10, 11, 12, 13], [14, 15]], [[16, 17, 18], [19, 20, 21, 22, 23]]


@pytest.mark.parametrize("write", ["gated", "slot"])
def test_bf16_write_keeps_the_stm_dtype_and_stays_close_to_fp32(write):
    torch.manual_seed(0)
    model = ReactiveTransformer(preset("tiny", memory_write=write)).eval()
    stm = random_stm(model, 2)
    fp32 = model.update_memory(stm, QUERIES, ANSWERS, precision="fp32")
    bf16 = model.update_memory(stm, QUERIES, ANSWERS, precision="bf16")
    assert bf16.dtype == fp32.dtype == stm.dtype == torch.float32
    assert not torch.equal(bf16, fp32), "bf16 was asked for but the write ran in fp32"
    # the rounding is small against what the write changes
    assert (bf16 - fp32).norm() < 0.05 * (fp32 - stm).norm()


def test_auto_means_bf16_where_the_cpu_has_bf16_hardware_and_the_write_is_large():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo to read the CPU's flags from")
    lines = cpuinfo.read_text().splitlines()
    flags = set(next(line for line in lines if line.startswith("flags")).split())
    hardware = bool({"avx512_bf16", "amx_bf16"} & flags)
    assert has_fast_bf16(torch.device("cpu")) == hardware

    torch.manual_seed(0)
    model = ReactiveTransformer(preset("tiny")).eval()
    per_row = math.prod(model.stm_shape)
    large = math.ceil(BF16_MIN_STM_ELEMENTS / per_row)  # rows: a write big enough to gain from bf16
    for rows, bf16 in ((1, False), (large, hardware)):
        stm = random_stm(model, rows)
        queries, answers = [[10, 11, 12]] * rows, [[13, 14]] * rows
        auto = model.update_memory(stm, queries, answers)  # the default
        same = model.update_memory(stm, queries, answers, precision="bf16" if bf16 else "fp32")
        assert torch.equal(auto, same), (
            f"{rows} rows: auto should have written in {'bf16' if bf16 else 'fp32'}"
        )


def test_an_unknown_precision_is_a_clear_error():
    model = ReactiveTransformer(preset("tiny")).eval()
    with pytest.raises(ValueError, match="auto, fp32, bf16.*'fp16'"):
        model.update_memory(random_stm(model, 1), [10], [11], precision="fp16")
