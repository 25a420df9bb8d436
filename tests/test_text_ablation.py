"""Head ablation finds the output projection of every family and removes exactly one head.

Reference, computed independently of the hooks: the head's columns of the projection's weight
(written out per family below) set to zero, which is what zeroing that head's slice of the
projection input does.  Random-init tiny configs, no downloads.
"""

import numpy as np
import pytest
import torch

from multiattn.adapters.ablation import ablate_heads, head_importance, head_projections

from ._text_tiny import tiny_model

IDS = torch.tensor([[5, 17, 33, 8, 61, 42, 9]])

#: family -> the output projection of layer i, written out by hand (the finder must agree).
PROJECTION = {
    "bert": lambda m, i: m.encoder.layer[i].attention.output.dense,
    "distilbert": lambda m, i: m.transformer.layer[i].attention.out_lin,
    "gpt2": lambda m, i: m.h[i].attn.c_proj,
    "gpt_neox": lambda m, i: m.layers[i].attention.dense,
    "falcon": lambda m, i: m.h[i].self_attention.dense,
    "bloom": lambda m, i: m.h[i].self_attention.dense,
    "gptj": lambda m, i: m.h[i].attn.out_proj,
    "modernbert": lambda m, i: m.layers[i].attn.Wo,
    "llama": lambda m, i: m.layers[i].self_attn.o_proj,
    "qwen3": lambda m, i: m.layers[i].self_attn.o_proj,
    "phi3": lambda m, i: m.layers[i].self_attn.o_proj,  # defined before the fused, wider qkv_proj
    "t5": lambda m, i: (m.encoder.block[i].layer[0].SelfAttention.o if i < 2
                        else m.decoder.block[i - 2].layer[0].SelfAttention.o),
    "bart": lambda m, i: (m.encoder.layers[i] if i < 2 else m.decoder.layers[i - 2]).self_attn.out_proj,
    "deberta-v2": lambda m, i: m.encoder.layer[i].attention.output.dense,
    "mpt": lambda m, i: m.blocks[i].attn.out_proj,
    "opt": lambda m, i: m.decoder.layers[i].self_attn.out_proj,
    "phi": lambda m, i: m.layers[i].self_attn.dense,
    "gpt_oss": lambda m, i: m.layers[i].self_attn.o_proj,
}
#: Self-attention layers counted by head_projections (encoder-decoders: encoder's, then decoder's).
N_LAYERS = {"t5": 4, "bart": 4}


def _forward(model):
    kwargs = {"decoder_input_ids": torch.tensor([[0, 5, 6]])} if model.config.is_encoder_decoder else {}
    with torch.no_grad():
        return model(input_ids=IDS, **kwargs).last_hidden_state.numpy()


def _zero_columns(weight, head, d, conv1d):
    """GPT-2's Conv1D stores (in, out): the head is a block of rows; Linear (out, in): of columns."""
    if conv1d:
        weight[head * d:(head + 1) * d] = 0
    else:
        weight[:, head * d:(head + 1) * d] = 0


@pytest.mark.parametrize("family", list(PROJECTION))
def test_ablating_a_head_equals_zeroing_its_slice_of_the_projection(family):
    model = tiny_model(family)
    projections, n_heads = head_projections(model)
    n_layers = N_LAYERS.get(family, 2)
    assert len(projections) == n_layers and n_heads == 4
    assert all(proj is PROJECTION[family](model, i) for i, proj in enumerate(projections))
    plain = _forward(model)
    layer, head = n_layers - 1, 2
    with ablate_heads(model, [(layer, head)]):
        hooked = _forward(model)
    proj = PROJECTION[family](model, layer)
    conv1d = type(proj).__name__ == "Conv1D"
    d = (proj.weight.shape[0] if conv1d else proj.weight.shape[1]) // n_heads
    saved = proj.weight.detach().clone()
    with torch.no_grad():
        _zero_columns(proj.weight, head, d, conv1d)
    reference = _forward(model)
    with torch.no_grad():
        proj.weight.copy_(saved)
    np.testing.assert_allclose(hooked, reference, atol=1e-5)
    assert not np.allclose(hooked, plain, atol=1e-4)
    np.testing.assert_array_equal(_forward(model), plain)  # hooks removed on exit


def test_albert_shared_layer_is_ablated_at_one_depth_only():
    model = tiny_model("albert")
    projections, n_heads = head_projections(model)
    shared = model.encoder.albert_layer_groups[0].albert_layers[0].attention.dense
    assert len(projections) == 2 and all(p is shared for p in projections) and n_heads == 4
    d = shared.in_features // n_heads
    for layer in (0, 1):
        calls = []

        def zero_at_depth(_module, args, layer=layer, calls=calls):  # independent: slice of the input
            calls.append(1)
            if len(calls) - 1 != layer:
                return None
            hidden = args[0].clone()
            hidden[..., 1 * d:2 * d] = 0
            return (hidden,)

        handle = shared.register_forward_pre_hook(zero_at_depth)
        reference = _forward(model)
        handle.remove()
        with ablate_heads(model, [(layer, 1)]):
            hooked = _forward(model)
        np.testing.assert_allclose(hooked, reference, atol=1e-5)
    with ablate_heads(model, [(0, 1)]):
        first = _forward(model)
    with ablate_heads(model, [(1, 1)]):
        second = _forward(model)
    assert not np.allclose(first, second, atol=1e-4)


@pytest.mark.parametrize("family", ["gpt_neox", "t5"])
def test_head_importance_covers_every_self_attention_layer(family):
    model = tiny_model(family)
    kwargs = {"decoder_input_ids": torch.tensor([[0, 5, 6]])} if model.config.is_encoder_decoder else {}
    scores = head_importance(model, IDS,
                             lambda m, x: m(input_ids=x, **kwargs).last_hidden_state.pow(2).mean())
    assert scores.shape == (4 if family == "t5" else 2, 4) and (scores > 0).all()


def test_xlnet_without_a_projection_module_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="no attention output projection"):
        head_projections(tiny_model("xlnet"))


def test_hybrid_model_ablates_its_attention_layers_only():
    model = tiny_model("qwen3_next")  # layer 0 is linear attention: one self-attention projection
    projections, n_heads = head_projections(model)
    assert projections == [model.layers[1].self_attn.o_proj] and n_heads == 4
