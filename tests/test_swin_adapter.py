"""Swin / Swinv2 (Hugging Face and timm): every window of every block mapped back onto its stage grid.

The check is independent of the window bookkeeping: with the captured block-sparse grid made
dense, ``proj(A @ V)`` over the tokens in image order must equal what the block added to its
residual stream (read at the block's second norm), shifted blocks included.
"""

import numpy as np
import pytest
import timm
import torch
import transformers as T

import multiattn
from multiattn.adapters import vit
from multiattn.stream import HeadMean

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _image(h=64, w=64, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def hf_swin():
    torch.manual_seed(0)
    config = T.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                          window_size=4, num_labels=3)
    return T.SwinForImageClassification(config).eval()


@pytest.fixture(scope="module")
def timm_swin():
    torch.manual_seed(0)
    return timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, img_size=56, depths=(2, 2),
                             num_heads=(2, 4), embed_dim=16, num_classes=3).eval()


def _residual_updates(model, blocks, x, norm_out, timm_style):
    """Per block: (input tokens (N, C), what attention added (N, C)), recorded by hooks."""
    records = []

    def pre(_m, args):
        t = args[0][0]
        records.append({"x": t.reshape(-1, t.shape[-1]).clone()})

    def after(_m, args):
        t = args[0][0]
        records[-1]["sum"] = t.reshape(-1, t.shape[-1]).clone()

    handles = []
    for block in blocks:
        handles.append(block.register_forward_pre_hook(pre))
        handles.append(getattr(block, norm_out).register_forward_pre_hook(after))
    with torch.no_grad():
        model(x) if timm_style else model(pixel_values=x)
    for h in handles:
        h.remove()
    return records


def _check_blocks(grids, blocks, records, norm_in, v_of, proj_of):
    flat = [(name, layer) for name in sorted(grids) for layer in range(grids[name].n_layers)]
    assert len(flat) == len(blocks) == len(records)
    for (name, layer), block, rec in zip(flat, blocks, records):
        dense = grids[name].select(layer=layer).to_dense().values[0]  # (heads, N, N)
        with torch.no_grad():
            v = v_of(block, getattr(block, norm_in)(rec["x"]))  # (heads, N, d)
            mixed = torch.einsum("hqk,hkd->qhd", torch.from_numpy(dense.copy()), v).reshape(len(rec["x"]), -1)
            expected = rec["sum"] - rec["x"]
            torch.testing.assert_close(proj_of(block)(mixed), expected, atol=2e-5, rtol=1e-4)


def test_hf_swin_windows_and_shifts_map_back_exactly(hf_swin):
    x = vit.prepare(hf_swin, _image())["pixel_values"]
    with torch.no_grad():
        before = hf_swin(pixel_values=x).logits
    impl = hf_swin.config._attn_implementation
    grids = multiattn.capture(hf_swin, _image())
    assert hf_swin.config._attn_implementation == impl
    assert sorted(grids) == ["stage.0", "stage.1"]
    s0, s1 = grids["stage.0"], grids["stage.1"]
    assert (s0.query.rows, s0.query.cols, s0.query.prefix) == (8, 8, ())
    assert (s1.query.rows, s1.query.cols) == (4, 4) and s1.query.patch_size == (8, 8)
    assert s0.n_heads == 2 and s1.n_heads == 4 and s0.layers == ("stage.0.block.0", "stage.0.block.1")
    assert s0.meta["shift_size"] == [(0, 0), (2, 2)] and s0.meta["padding_mass"] < 1e-6
    dense = s0.to_dense().values
    np.testing.assert_allclose(dense.sum(-1), 1.0, atol=1e-5)
    # unshifted block: token (0, 0) sees exactly its 4x4 window; shifted block: another window
    seen0 = np.flatnonzero(dense[0, 0, 0] > 0)
    np.testing.assert_array_equal(seen0, [r * 8 + c for r in range(4) for c in range(4)])
    assert set(np.flatnonzero(dense[1, 0, 0] > 1e-30)) != set(seen0)
    with torch.no_grad():
        torch.testing.assert_close(hf_swin(pixel_values=x).logits, before)
    blocks = [b for stage in hf_swin.swin.encoder.layers for b in stage.blocks]

    def v_of(block, h):
        att = block.attention
        return att.v_proj(h).reshape(len(h), att.num_attention_heads, -1).transpose(0, 1)

    records = _residual_updates(hf_swin, blocks, x, "layernorm_after", False)
    _check_blocks(grids, blocks, records, "layernorm_before", v_of, lambda b: b.attention.o_proj)


def test_timm_swin_windows_and_shifts_map_back_exactly(timm_swin):
    x = vit.prepare(timm_swin, _image())["x"]
    with torch.no_grad():
        before = timm_swin(x)
    grids = multiattn.capture(timm_swin, _image())
    assert sorted(grids) == ["stage.0", "stage.1"]
    assert (grids["stage.0"].query.rows, grids["stage.1"].query.rows) == (14, 7)
    assert grids["stage.0"].meta["shift_size"] == [(0, 0), (3, 3)]
    with torch.no_grad():
        torch.testing.assert_close(timm_swin(x), before)
    blocks = [b for stage in timm_swin.layers for b in stage.blocks]

    def v_of(block, h):
        qkv = block.attn.qkv(h).reshape(len(h), 3, block.attn.num_heads, -1)
        return qkv[:, 2].transpose(0, 1)

    records = _residual_updates(timm_swin, blocks, x, "norm2", True)
    _check_blocks(grids, blocks, records, "norm1", v_of, lambda b: b.attn.proj)


def test_padding_mass_is_reported_not_hidden():
    torch.manual_seed(0)
    config = T.SwinConfig(image_size=40, patch_size=4, embed_dim=16, depths=[2], num_heads=[2], window_size=4)
    grids = multiattn.capture(T.SwinModel(config).eval(), _image(40, 40))
    grid = grids["stage.0"]  # 10x10 tokens padded to 12x12
    assert (grid.query.rows, grid.query.cols) == (10, 10)
    assert 0.01 < grid.meta["padding_mass"] < 1.0


def test_swinv2_captures_every_block():
    torch.manual_seed(0)
    config = T.Swinv2Config(image_size=32, patch_size=4, embed_dim=16, depths=[2, 2], num_heads=[2, 2],
                            window_size=4)
    grids = multiattn.capture(T.Swinv2Model(config).eval(), _image())
    assert [grids[k].n_layers for k in sorted(grids)] == [2, 2]
    np.testing.assert_allclose(grids["stage.0"].to_dense().values.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("which", ["hf", "timm"])
def test_streaming_passes_every_window(which, hf_swin, timm_swin):
    model = hf_swin if which == "hf" else timm_swin
    grids = multiattn.capture(model, _image())
    out = multiattn.capture_stream(model, vit.prepare(model, _image()), {"mean": HeadMean()})
    assert out["layers"] == [f"{k}.block.{b}" for k in sorted(grids) for b in range(grids[k].n_layers)]
    for fed, name in zip(out["mean"], out["layers"]):
        stage, block = name.rsplit(".block.", 1)
        want = grids[stage].select(layer=int(block)).to_dense().values.mean(1)[0]
        np.testing.assert_allclose(fed.to_dense().values[0, 0], want, atol=1e-6)


def test_swin_explains_within_its_last_stage(hf_swin):
    amap = vit.explain(hf_swin, _image())
    assert amap.meta["method"] == "rollout" and "within stage.1" in amap.meta["values"]
    assert amap.axis.rows == 4 and amap.axis.patch_size == (8, 8)
    raw = vit.explain(hf_swin, _image(), method="raw")
    dense = multiattn.capture(hf_swin, _image())["stage.1"].to_dense().values
    np.testing.assert_allclose(raw.values, dense[-1].mean(0).mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="Swin"):
        vit.explain(hf_swin, _image(), method="relevance")


def test_timm_swinv2_cosine_attention_is_refused_with_the_reason():
    model = timm.create_model("swinv2_tiny_window8_256", pretrained=False, img_size=64, depths=(2,),
                              num_heads=(2,), embed_dim=16, window_size=4).eval()
    with pytest.raises(ValueError, match="cosine attention"):
        multiattn.capture(model, _image())
