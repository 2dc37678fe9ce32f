import pytest
import torch

from rxt_core import ReactiveTransformer, StatelessLM, preset


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def config():
    return preset("tiny")


@pytest.fixture
def model(config):
    return ReactiveTransformer(config).eval()


@pytest.fixture
def stateless(config):
    return StatelessLM(config).eval()


def random_stm(model, batch, seed=0):
    """A clearly non-trivial memory (the learned init is tiny and identical for every row)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *model.stm_shape), generator=g)
