"""`compile_writes`: memory writes through torch.compile give the eager writes' memory, for batch
sizes and interaction lengths they were not warmed up on and without recompiling for each new
length; a machine where compiling fails keeps working with eager writes."""

import copy

import pytest
import torch
from torch._dynamo.utils import counters

from rxt_core import ReactiveTransformer, preset

from .conftest import random_stm

QUERIES = [[10, 11, 12, 13, 14], [15, 16], [17]]
ANSWERS = [[18, 19, 20], [21, 22, 23, 24, 25, 26, 27], [28, 29]]


@pytest.mark.slow
def test_compiled_writes_equal_eager_ones_without_recompiling_per_length():
    torch.manual_seed(0)
    model = ReactiveTransformer(preset("tiny", memory_write="slot")).eval()
    stm = random_stm(model, 3)
    longer = [q * 3 for q in QUERIES[:2]]
    eager = model.update_memory(stm, QUERIES, ANSWERS, "fp32")
    eager_longer = model.update_memory(stm[:2], longer, ANSWERS[:2], "fp32")
    graphs = counters["stats"]["unique_graphs"]
    assert model.compile_writes("fp32", warm_batches=(2,)) > 0
    warmed = counters["stats"]["unique_graphs"]
    assert warmed > graphs, "compile_writes compiled nothing"
    # 3 rows and other lengths than the warm-up's, then 2 rows of longer queries
    torch.testing.assert_close(
        model.update_memory(stm, QUERIES, ANSWERS, "fp32"), eager, atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(
        model.update_memory(stm[:2], longer, ANSWERS[:2], "fp32"), eager_longer, atol=1e-5, rtol=1e-5
    )
    assert counters["stats"]["unique_graphs"] == warmed, "a new batch size or length recompiled"
    # a deep copy of a compiled model writes with its own weights, not the original's
    twin = copy.deepcopy(model)
    with torch.no_grad():
        for p in twin.memory_attention.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    twin_eager = ReactiveTransformer(model.config).eval()
    twin_eager.load_state_dict(twin.state_dict())
    twin_memory = twin.update_memory(stm, QUERIES, ANSWERS, "fp32")
    assert not torch.allclose(twin_memory, eager, atol=1e-3)
    torch.testing.assert_close(
        twin_memory, twin_eager.update_memory(stm, QUERIES, ANSWERS, "fp32"), atol=1e-5, rtol=1e-5
    )


@pytest.mark.slow
def test_a_failed_compile_leaves_writes_eager(monkeypatch, tmp_path):
    import torch._inductor.config as inductor_config

    torch.manual_seed(0)
    model = ReactiveTransformer(preset("tiny")).eval()
    stm = random_stm(model, 2)
    eager = model.update_memory(stm, QUERIES[:2], ANSWERS[:2], "fp32")
    # no C++ compiler, and no earlier run's compiled code to fall back on
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    torch._dynamo.reset()
    no_compiler = inductor_config.patch({"cpp.cxx": ("/nonexistent/c++",), "fx_graph_cache": False})
    with no_compiler, pytest.raises(torch._dynamo.exc.BackendCompilerFailed):
        model.compile_writes("fp32", warm_batches=(2,))
    torch.testing.assert_close(model.update_memory(stm, QUERIES[:2], ANSWERS[:2], "fp32"), eager)
