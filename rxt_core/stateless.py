"""The stateless baseline: a decoder-only LM from the same blocks as RxT's decoder, without
memory cross-attention. Chat with it the way stateless chat works today: every turn the whole
`[Q] q1 [A] a1 [EOS] ... [Q] qN [A]` history is the prompt."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from . import generation
from .checkpoint import PretrainedMixin
from .config import RxTConfig
from .decoder import Decoder
from .interaction import TokenIds, as_id_list, interaction_ids, prompt_ids
from .rope import RotaryEmbedding
from .sampling import SamplingParams


class StatelessLM(PretrainedMixin, nn.Module):
    kind = "stateless"

    def __init__(self, config: RxTConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.dim)
        self.rope = RotaryEmbedding(config.head_dim, config.max_seq_len, config.rope_theta)
        self.decoder = Decoder(config, self.rope, reads_memory=False)
        self.lm_head = nn.Linear(config.dim, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.embedding.weight
        for module in self.modules():
            if isinstance(module, nn.Linear) and module.weight is not self.embedding.weight:
                nn.init.normal_(module.weight, std=0.02)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training forward: causal logits [B, T, V] and the MoE aux loss."""
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
        hidden, aux = self.decoder(self.embedding(input_ids), positions)
        return self.lm_head(hidden), aux

    def next_token_logits(self, hidden: torch.Tensor, memory_kv=None, tokens=None) -> torch.Tensor:
        """[..., V] from the decoder's normed hidden states (no memory to copy from)."""
        return self.lm_head(hidden)

    def history_prompt(self, history: Sequence[tuple[TokenIds, TokenIds]], query_ids: TokenIds) -> list[int]:
        """`[Q] q1 [A] a1 [EOS] ... [Q] query [A]`; ValueError when it exceeds the positions."""
        ids: list[int] = []
        for i, (q, a) in enumerate(history):
            q = as_id_list(q, f"history[{i}] query", self.config)
            ids += interaction_ids(q, as_id_list(a, f"history[{i}] answer", self.config, True), self.config)
        prompt = ids + prompt_ids(as_id_list(query_ids, "query_ids", self.config), self.config)
        if len(prompt) >= self.config.max_seq_len:
            raise ValueError(
                f"history + query is {len(prompt)} tokens; the model has {self.config.max_seq_len} positions"
            )
        return prompt

    def interact(
        self,
        query_ids: TokenIds,
        history: Sequence[tuple[TokenIds, TokenIds]] = (),
        sampling: SamplingParams | None = None,
        generator: torch.Generator | None = None,
    ) -> Iterator[int]:
        """Stream the answer to `query_ids` after re-reading the whole `history`."""
        prompt = self.history_prompt(history, query_ids)
        for step in generation.stream(self, [prompt], [sampling or SamplingParams()], None, generator):
            if step[0] is not None:
                yield step[0]
