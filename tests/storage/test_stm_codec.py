"""rxt_core.stm_codec: the tensor <-> bytes format every snapshot is stored in."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save

from rxt_core.stm_codec import decode_stm, encode_stm

from .conftest import make_stm


def test_fp32_round_trip_is_exact():
    stm = make_stm(0)
    back = decode_stm(encode_stm(stm))
    assert back.dtype == torch.float32
    assert torch.equal(back, stm)


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float16, 1e-3), (torch.bfloat16, 8e-3)])
def test_half_precision_halves_bytes_with_bounded_relative_error(dtype, tolerance):
    stm = make_stm(1, (4, 64, 32))
    full, half = encode_stm(stm), encode_stm(stm, dtype)
    back = decode_stm(half)
    assert back.dtype == dtype
    assert len(half) < 0.51 * len(full)
    relative = (back.float() - stm).abs() / stm.abs().clamp_min(1e-3)
    assert relative.max().item() < tolerance


def test_decoded_tensor_is_writable_and_independent_of_the_blob():
    blob = encode_stm(make_stm(2))
    first = decode_stm(blob)
    first.add_(1.0)
    assert torch.equal(decode_stm(blob), make_stm(2))


def test_encodes_non_contiguous_tensors():
    stm = make_stm(3, (8, 16, 2)).transpose(0, 2)
    assert not stm.is_contiguous()
    assert torch.equal(decode_stm(encode_stm(stm)), stm)


def test_refuses_integer_storage():
    with pytest.raises(ValueError, match="cannot store an STM as torch.int8"):
        encode_stm(make_stm(0), torch.int8)


@pytest.mark.parametrize(
    "blob",
    [b"", b"garbage bytes", encode_stm(make_stm(0))[:-7]],
    ids=["empty", "garbage", "truncated"],
)
def test_decode_refuses_bytes_that_are_not_an_stm_blob(blob):
    with pytest.raises(ValueError, match="not a valid safetensors STM blob"):
        decode_stm(blob)


def test_decode_refuses_a_safetensors_file_without_exactly_one_stm_tensor():
    other = save({"weights": torch.zeros(2), "stm": torch.zeros(2)})
    with pytest.raises(ValueError, match="exactly one tensor 'stm'"):
        decode_stm(other)
