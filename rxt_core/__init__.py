"""rxt_core: the Reactive Transformer in plain PyTorch (no Ray, SQL or gRPC)."""

from .config import PRESETS, AttentionConfig, GateConfig, MoEConfig, RxTConfig, preset
from .model import ReactiveTransformer
from .sampling import SamplingParams
from .stateless import StatelessLM
from .tokenizer import RxTTokenizer

__all__ = [
    "PRESETS",
    "AttentionConfig",
    "GateConfig",
    "MoEConfig",
    "ReactiveTransformer",
    "RxTConfig",
    "RxTTokenizer",
    "SamplingParams",
    "StatelessLM",
    "preset",
]
