"""Memory writes in bf16 (where the CPU or GPU multiplies bf16 in hardware) or fp32: the STM keeps
its dtype, bf16 stays close to fp32, and "auto" picks bf16 exactly where the hardware has it."""

from pathlib import Path

import pytest
import torch

from rxt_core import ReactiveTransformer, preset
from rxt_core.precision import has_fast_bf16

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


def test_auto_means_bf16_exactly_where_the_cpu_has_bf16_hardware():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo to read the CPU's flags from")
    lines = cpuinfo.read_text().splitlines()
    flags = set(next(line for line in lines if line.startswith("flags")).split())
    expected = bool({"avx512_bf16", "amx_bf16"} & flags)
    assert has_fast_bf16(torch.device("cpu")) == expected

    torch.manual_seed(0)
    model = ReactiveTransformer(preset("tiny")).eval()
    stm = random_stm(model, 2)
    auto = model.update_memory(stm, QUERIES, ANSWERS)  # the default
    same_as = model.update_memory(stm, QUERIES, ANSWERS, precision="bf16" if expected else "fp32")
    assert torch.equal(auto, same_as)


def test_an_unknown_precision_is_a_clear_error():
    model = ReactiveTransformer(preset("tiny")).eval()
    with pytest.raises(ValueError, match="auto, fp32, bf16.*'fp16'"):
        model.update_memory(random_stm(model, 1), [10], [11], precision="fp16")
