"""Mixture-of-Experts SwiGLU FFN with top-k routing, shared experts and a load-balancing loss.

Expert weights are stacked into single tensors so the whole layer is a handful of kernels:
- one token on CPU (batch-1 decoding): only its top-k experts run, each read straight from the
  stack — a batch-1 step is bound by reading weights, and the expert ids reach the host for free;
- few tokens on an accelerator (batched decoding): every expert runs on every token in one
  batched matmul and the top-k weights mask the result — no host sync per layer;
- otherwise (CPU batches, prefill, training): tokens are grouped by expert and each expert runs
  once on its group, so compute is top_k/experts of the dense cost (on CPU this also beats the
  dense path for 2..16 tokens).
Routing is per token with no capacity limit, so no token is ever dropped and one session's
tokens never change another's output in a batch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .config import MoEConfig
from .ffn import SwiGLU

DENSE_TOKEN_LIMIT = 16  # on accelerators, at or below this many tokens run all experts densely


class MoEFeedForward(nn.Module):
    def __init__(self, dim: int, config: MoEConfig):
        super().__init__()
        self.config = config
        e, h = config.experts, config.expert_hidden
        self.router = nn.Linear(dim, e, bias=False)
        self.gate_up = nn.Parameter(torch.empty(e, dim, 2 * h))
        self.down = nn.Parameter(torch.empty(e, h, dim))
        nn.init.normal_(self.gate_up, std=dim**-0.5)
        nn.init.normal_(self.down, std=h**-0.5)
        shared_hidden = config.shared_experts * h
        self.shared = SwiGLU(dim, shared_hidden) if shared_hidden else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (output, load-balancing auxiliary loss)."""
        shape = x.shape
        tokens = x.reshape(-1, shape[-1])
        logits = self.router(tokens)
        top_logits, top_i = logits.topk(self.config.top_k, dim=-1)
        # softmax over the chosen logits == the chosen router probabilities renormalised
        top_w = F.softmax(top_logits, dim=-1, dtype=torch.float32).to(tokens.dtype)

        shared = self.shared(tokens) if self.shared is not None else None
        count, on_host = tokens.shape[0], tokens.device.type == "cpu"
        if on_host and count == 1:
            out = self._one_token(tokens, top_w, top_i, shared)
        else:
            if not on_host and count <= DENSE_TOKEN_LIMIT:
                out = self._all_experts(tokens, top_w, top_i)
            else:
                out = self._grouped_experts(tokens, top_w, top_i)
            out = out if shared is None else out + shared
        return out.reshape(shape), self._balance_loss(logits, top_i)

    def _expert_mlp(self, x: torch.Tensor, gate_up: torch.Tensor, down: torch.Tensor) -> torch.Tensor:
        gate, up = (x @ gate_up).chunk(2, dim=-1)
        return (F.silu(gate) * up) @ down

    def _one_token(
        self, token: torch.Tensor, top_w: torch.Tensor, top_i: torch.Tensor, shared: torch.Tensor | None
    ) -> torch.Tensor:
        """[1, D]: its top-k experts one after another, each accumulated with one addmm."""
        out = torch.zeros_like(token) if shared is None else shared
        for slot, expert in enumerate(top_i[0].tolist()):
            gate, up = (token @ self.gate_up[expert]).chunk(2, dim=-1)
            hidden = F.silu(gate) * up * top_w[:, slot : slot + 1]
            out = torch.addmm(out, hidden, self.down[expert])
        return out

    def _all_experts(self, tokens: torch.Tensor, top_w: torch.Tensor, top_i: torch.Tensor) -> torch.Tensor:
        per_expert = self._expert_mlp(tokens.unsqueeze(0), self.gate_up, self.down)  # [E, N, D]
        weights = torch.zeros(tokens.shape[0], self.config.experts, dtype=tokens.dtype, device=tokens.device)
        weights.scatter_(1, top_i, top_w)  # [N, E], zero for unrouted experts
        return torch.einsum("end,ne->nd", per_expert, weights)

    def _grouped_experts(
        self, tokens: torch.Tensor, top_w: torch.Tensor, top_i: torch.Tensor
    ) -> torch.Tensor:
        k = self.config.top_k
        flat_expert = top_i.reshape(-1)
        order = flat_expert.argsort(stable=True)
        token_of = order // k
        counts = torch.bincount(flat_expert, minlength=self.config.experts).tolist()
        routed = tokens[token_of]
        outputs = torch.empty_like(routed)
        start = 0
        for expert, count in enumerate(counts):
            if count:
                rows = slice(start, start + count)
                outputs[rows] = self._expert_mlp(routed[rows], self.gate_up[expert], self.down[expert])
                start += count
        outputs = outputs * top_w.reshape(-1)[order].unsqueeze(-1)
        return torch.zeros_like(tokens).index_add_(0, token_of, outputs)

    def _balance_loss(self, logits: torch.Tensor, top_i: torch.Tensor) -> torch.Tensor:
        """Switch-style loss E * sum_e(fraction routed to e * mean router prob of e); 1.0 when
        perfectly balanced. Zero at inference (no graph) to keep decoding free of extra work."""
        if not torch.is_grad_enabled():
            return logits.new_zeros((), dtype=torch.float32)
        probs = F.softmax(logits, dim=-1, dtype=torch.float32)
        e = self.config.experts
        routed_fraction = F.one_hot(top_i, e).float().sum(dim=(0, 1)) / top_i.numel()
        return e * (routed_fraction * probs.mean(0)).sum()
