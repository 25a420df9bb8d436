"""WavLM's per-head attention: Hugging Face returns the *mean* over heads, so it is recomputed here.

``WavLMAttention`` runs ``torch.nn.functional.multi_head_attention_forward``, which averages
the weights over heads before returning them (pytorch/pytorch#32590); every "head" of
``output_attentions`` is the same matrix.  The hook below recomputes each head exactly as
that call does: ``softmax(q kᵀ / sqrt(d) + gate_h(x) * bias_h)`` with WavLM's gated
relative position bias, then checks its work twice (the head mean equals the weights
torch returned, and ``out_proj(probs @ v)`` equals the module's output), so a wrong
recomputation is an error, never a silently wrong grid.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from multiattn.errors import MultiattnRuntimeError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch

    from .._types import Model

__all__ = ["per_head_attention", "wavlm_heads"]

_TOL = 1e-4


def per_head_attention(module: torch.nn.Module, hidden: torch.Tensor, position_bias: torch.Tensor,
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-head probabilities ``(B, H, T, T)`` of one ``WavLMAttention`` call, and its output.

    ``position_bias`` is the ungated ``(B * H, T, T)`` bias the call used (its third output).
    """
    import torch

    bsz, length, dim = hidden.shape
    heads, head_dim = module.num_heads, dim // module.num_heads
    gated = hidden.view(bsz, length, heads, head_dim).permute(0, 2, 1, 3)
    proj = module.gru_rel_pos_linear(gated).view(bsz, heads, length, 2, 4).sum(-1)
    gate_a, gate_b = torch.sigmoid(proj).chunk(2, dim=-1)
    gate = gate_a * (gate_b * module.gru_rel_pos_const - 1.0) + 2.0
    bias = gate.view(bsz * heads, -1, 1) * position_bias
    split = lambda x: x.view(bsz, length, heads, head_dim).transpose(1, 2)  # noqa: E731
    q = split(module.q_proj(hidden)) * head_dim**-0.5
    k, v = split(module.k_proj(hidden)), split(module.v_proj(hidden))
    scores = q @ k.transpose(-2, -1) + bias.view(bsz, heads, length, length)
    probs = scores.softmax(dim=-1)
    context = (probs @ v).transpose(1, 2).reshape(bsz, length, dim)
    return probs, module.out_proj(context)


@contextmanager
def wavlm_heads(model: Model, store: list[torch.Tensor]) -> Iterator[None]:
    """Hook every ``WavLMAttention`` of the encoder; each call appends its per-head weights to ``store``."""
    import torch

    def hook(module, args, kwargs, output):
        hidden = args[0] if args else kwargs["hidden_states"]
        if kwargs.get("attention_mask") is not None:
            raise MultiattnRuntimeError("WavLM per-head capture takes one unpadded recording "
                                        "(no attention_mask)")
        probs, out = per_head_attention(module, hidden, output[2])
        mean_ok = output[1] is None or torch.allclose(probs.mean(1), output[1][:, 0], atol=_TOL)
        if not mean_ok or not torch.allclose(out, output[0], atol=_TOL, rtol=1e-3):
            raise MultiattnRuntimeError(
                "WavLM per-head attention could not be recomputed (its head mean or output differs from "
                "the model's); this transformers version changed WavLMAttention")
        store.append(probs)

    modules = [m for name, m in model.named_modules()
               if type(m).__name__ == "WavLMAttention" and ".encoder." in f".{name}."]
    handles = [m.register_forward_hook(hook, with_kwargs=True) for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
