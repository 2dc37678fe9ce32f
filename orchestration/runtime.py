"""What every model-holding replica does at start-up: pick a device, bound its threads, load the
model and tokenizer, and open the store."""

from __future__ import annotations

import logging

import torch

from rxt_core import ReactiveTransformer
from storage import AsyncSessionStore, SessionStore

from .config import ServiceConfig
from .text import Tokenizer, load_tokenizer

log = logging.getLogger(__name__)


def device_for(config: ServiceConfig) -> torch.device:
    if config.device != "auto":
        return torch.device(config.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_model(
    config: ServiceConfig, device: str | torch.device | None = None
) -> tuple[ReactiveTransformer, Tokenizer]:
    """The model on `device` (default: `device_for(config)`)."""
    torch.set_num_threads(config.torch_threads)
    device = torch.device(device) if device is not None else device_for(config)
    model = ReactiveTransformer.from_pretrained(config.model_dir, device=device)
    log.info("loaded %s on %s (fingerprint %s)", config.model_dir, device, model.fingerprint())
    return model, load_tokenizer(config.model_dir)


def open_store(config: ServiceConfig) -> AsyncSessionStore:
    return AsyncSessionStore(SessionStore(config.database_url))
