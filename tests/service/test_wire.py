"""What crosses a Ray Serve hop between the decoder and the memory updater arrives intact."""

import pickle

import pytest
import torch

from orchestration.memory_updater import InitialMemory, UpdateJob, UpdateResult


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_update_job_round_trips_exactly(dtype):
    stm = torch.randn(1, 4, 64, 128, generator=torch.Generator().manual_seed(0)).to(dtype)
    job = UpdateJob("s1", 3, 2, stm, [5, 6, 7], [8, 9])
    back = pickle.loads(pickle.dumps(job))
    assert back.stm.dtype == dtype and back.stm.shape == stm.shape
    assert torch.equal(back.stm, stm)
    assert (back.session_id, back.turn, back.from_version) == ("s1", 3, 2)
    assert (back.query_ids, back.answer_ids) == ([5, 6, 7], [8, 9])
    back.stm.add_(1)  # the receiver may update it in place
    assert not torch.equal(back.stm, stm)


def test_update_result_round_trips_with_and_without_memory():
    stm = torch.randn(1, 2, 8, 16)[:, :, ::2]  # not contiguous
    result = pickle.loads(pickle.dumps(UpdateResult("s1", 4, 5, stm, seconds=0.25)))
    assert torch.equal(result.stm, stm) and (result.version, result.seconds) == (5, 0.25)
    refused = pickle.loads(pickle.dumps(UpdateResult("s1", 4, None, None, error="conflict")))
    assert refused == UpdateResult("s1", 4, None, None, error="conflict")


def test_initial_memory_round_trips():
    stm = torch.randn(4, 64, 128)
    back = pickle.loads(pickle.dumps(InitialMemory(stm, "model-a")))
    assert torch.equal(back.stm, stm) and back.fingerprint == "model-a"


def test_tensors_travel_as_raw_bytes_not_as_torch_archives():
    """The point of the format: the pickle holds the tensor's bytes once, and no torch.save
    archive that the receiver would have to unpack with torch.load."""
    stm = torch.randn(1, 4, 64, 128)
    payload = pickle.dumps(UpdateJob("s1", 1, 0, stm, [1], [2]))
    assert b"_rebuild_tensor" not in payload and b"_load_from_bytes" not in payload
    assert stm.numel() * 4 <= len(payload) < stm.numel() * 4 + 2048
