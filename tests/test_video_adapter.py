"""Video adapter: token layouts of VideoMAE, ViViT and TimeSformer (random-init, published geometry)."""

import numpy as np
import pytest
import torch

from multiattn import AttentionGrid, AttentionMap, VideoAxis
from multiattn.adapters import _timesformer as _tsf
from multiattn.adapters import video as va
from multiattn.analysis.relevance import chefer_relevance
from multiattn.analysis.rollout import rollout
from multiattn.media import sample_frame_indices
from multiattn.renderers.frames import frame_maps

from .conftest import random_attention

SMALL = dict(hidden_size=32, num_attention_heads=2, intermediate_size=64)


@pytest.fixture(scope="module")
def videomae():
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    torch.manual_seed(0)
    # published base geometry: 16 frames of 224x224, tubelets 2x16x16 -> 8 x 14 x 14 tokens
    config = VideoMAEConfig(num_frames=16, image_size=224, patch_size=16, tubelet_size=2,
                            num_hidden_layers=2, num_labels=3, **SMALL)
    return VideoMAEForVideoClassification(config).eval()


@pytest.fixture(scope="module")
def small_videomae():
    """Small layout (8 frames of 64x64 -> 4 x 4 x 4 tokens) for checks independent of the geometry."""
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    torch.manual_seed(1)
    config = VideoMAEConfig(num_frames=8, image_size=64, patch_size=16, tubelet_size=2,
                            num_hidden_layers=3, num_labels=3, **SMALL)
    return VideoMAEForVideoClassification(config).eval()


@pytest.fixture(scope="module")
def vivit():
    from transformers import VivitConfig, VivitForVideoClassification

    torch.manual_seed(0)
    config = VivitConfig(num_frames=16, image_size=224, tubelet_size=[2, 16, 16], num_hidden_layers=2,
                         num_labels=3, **SMALL)
    return VivitForVideoClassification(config).eval()


@pytest.fixture(scope="module")
def timesformer():
    from transformers import TimesformerConfig, TimesformerForVideoClassification

    torch.manual_seed(0)
    # published base geometry: 8 frames of 224x224, 16x16 patches, divided space-time attention
    config = TimesformerConfig(num_frames=8, image_size=224, patch_size=16, num_hidden_layers=2,
                               num_labels=3, **SMALL)
    return TimesformerForVideoClassification(config).eval()


@pytest.fixture(scope="module")
def frames16():
    return np.random.default_rng(0).integers(0, 256, size=(16, 224, 224, 3), dtype=np.uint8)


def _hot_pixels(n_frames, frame_slice, r, c, size=224, patch=16):
    pixels = torch.zeros(1, n_frames, 3, size, size)
    pixels[0, frame_slice, :, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch] = 5.0
    return pixels


def test_videomae_shape_axis_and_rows(videomae, frames16):
    grid = va.capture(videomae, frames16, fps=8)
    axis = grid.query
    assert isinstance(axis, VideoAxis)
    assert (axis.frames, axis.rows, axis.cols, axis.tubelet, axis.prefix) == (16, 14, 14, (2, 16, 16), ())
    assert grid.shape == (2, 2, 1568, 1568)
    np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-4)
    np.testing.assert_allclose(axis.times[:2], [0.125, 0.375])  # tubelet centres at 8 fps
    assert grid.meta["readout"] == "mean" and grid.meta["family"] == "videomae"


def test_vivit_shape_has_cls(vivit, frames16):
    grid = va.capture(vivit, frames16)
    assert grid.query.prefix == ("CLS",) and grid.shape == (2, 2, 1569, 1569)
    assert grid.query.tubelet == (2, 16, 16) and grid.query.n_time == 8
    assert "fps" in grid.meta  # unknown fps is stated


@pytest.mark.parametrize("which", ["videomae", "vivit"])
def test_hot_tubelet_lands_on_its_token(which, request):
    """A tubelet lit at (time 3, row 5, col 9) changes exactly the token the axis names t3r5c9."""
    model = request.getfixturevalue(which)
    axis = va.capture(model, np.zeros((16, 224, 224, 3), np.uint8)).query
    embed = model.base_model.embeddings
    with torch.no_grad():
        base = embed(torch.zeros(1, 16, 3, 224, 224), None) if which == "videomae" else \
            embed(torch.zeros(1, 16, 3, 224, 224))
        hot = embed(_hot_pixels(16, slice(6, 8), 5, 9), None) if which == "videomae" else \
            embed(_hot_pixels(16, slice(6, 8), 5, 9))
    changed = np.flatnonzero((hot - base).abs().sum(-1)[0].numpy() > 1e-6)
    assert changed.tolist() == [axis.labels.index("t3r5c9")]
    # and a map hot on that token lands on frames 6-7, patch (5, 9)
    values = np.zeros(len(axis))
    values[changed[0]] = 1.0
    per_frame = frame_maps(AttentionMap(values, axis))
    assert per_frame.shape == (16, 14, 14)
    assert [tuple(i) for i in np.argwhere(per_frame)] == [(6, 5, 9), (7, 5, 9)]


def test_timesformer_divided_grids(timesformer, frames16):
    grids = va.capture(timesformer, frames16[:8], fps=4)
    spatial, temporal = grids["spatial"], grids["temporal"]
    axis = spatial.query
    assert axis is temporal.query and axis.prefix == ("CLS",) and len(axis) == 1 + 8 * 196
    assert spatial.is_sparse and spatial.shape == (2, 2, 8 * (197 * 197 - 1) + 1)
    assert temporal.shape == (2, 2, 196 * 8 * 8 + 1)
    coords = axis.coords()
    for grid, same in ((spatial, 0), (temporal, [1, 2])):
        keys, queries = grid.edge_index
        content = (keys > 0) & (queries > 0)
        # spatial edges stay within a frame, temporal edges within a patch
        np.testing.assert_array_equal(coords[keys[content]][:, same], coords[queries[content]][:, same])
        dense = grid.select(layer=1).to_dense().values
        np.testing.assert_allclose(dense.sum(-1), 1.0, atol=1e-4)


def test_timesformer_matches_hf_spatial_and_keeps_output(timesformer, frames16):
    pixels = va.frames_to_pixel_values(frames16[:8], 224)
    with torch.no_grad():
        plain = timesformer(pixel_values=pixels).logits
        out, spatial, temporal = _tsf.run_timesformer(timesformer, pixels)
    torch.testing.assert_close(out.logits, plain)  # the temporal hook recomputes the step exactly
    assert temporal[0].shape == (196, 2, 8, 8) and spatial[0].shape == (8, 2, 197, 197)
    grids = va.capture(timesformer, frames16[:8])
    dense = grids["spatial"].select(layer=0, head=1).to_dense().values[0, 0]
    hf = spatial[0][:, 1].numpy()
    t, n = 5, 196
    block = dense[1 + t * n: 1 + (t + 1) * n, 1 + t * n: 1 + (t + 1) * n]
    np.testing.assert_allclose(block, hf[t, 1:, 1:], atol=1e-6)
    np.testing.assert_allclose(dense[0, 1 + t * n: 1 + (t + 1) * n], hf[t, 0, 1:] / 8, atol=1e-6)
    np.testing.assert_allclose(dense[0, 0], hf[:, 0, 0].mean(), atol=1e-6)
    tdense = grids["temporal"].select(layer=0, head=1).to_dense().values[0, 0]
    patch = 3 * 14 + 7
    np.testing.assert_allclose(tdense[1 + patch::n, 1 + patch::n], temporal[0][patch, 1].numpy(), atol=1e-6)


def test_timesformer_hot_frame_and_patch(timesformer):
    """Lighting frame 5, patch (3, 7) changes the spatial rows of frame 5, the temporal rows of (3, 7)."""
    layer0 = timesformer.base_model.encoder.layer[0]
    saved = {k: v.clone() for k, v in layer0.temporal_dense.state_dict().items()}
    with torch.no_grad():  # no temporal mixing in layer 0, so the spatial step sees frames unmixed
        layer0.temporal_dense.weight.zero_()
        layer0.temporal_dense.bias.zero_()
    try:
        base = va.capture(timesformer, torch.zeros(1, 8, 3, 224, 224))
        hot = va.capture(timesformer, _hot_pixels(8, slice(5, 6), 3, 7))
    finally:
        layer0.temporal_dense.load_state_dict(saved)
    axis = base["spatial"].query
    coords = axis.coords()
    expected = {"spatial": coords[:, 0] == 5, "temporal": (coords[:, 1] == 3) & (coords[:, 2] == 7)}
    for step, expect in expected.items():
        diff = np.abs(hot[step].select(layer=0).values - base[step].select(layer=0).values).max(axis=(0, 1))
        rows = np.zeros(len(axis), bool)
        rows[hot[step].edge_index[1][diff > 1e-6]] = True
        if step == "spatial":
            expect = expect | (np.arange(len(axis)) == 0)  # the CLS row averages frame 5 in
        np.testing.assert_array_equal(rows, expect)


def test_rollout_matches_analysis_rollout(small_videomae, frames16):
    grid = va.capture(small_videomae, frames16[:8])
    amap = va.space_time_rollout(grid)
    reference = rollout(grid).mean(axis=0)  # mean pooling reads every row equally
    np.testing.assert_allclose(amap.values, reference, atol=1e-8)
    raw = va.readout_attention(grid, layer=0)
    np.testing.assert_allclose(raw.values, grid.values[0].mean(0).mean(0), atol=1e-6)


def test_divided_rollout_equals_dense_product(rng):
    """Rollout through (spatial, temporal) equals the dense product S~ T~ per layer, readout CLS."""
    axis = VideoAxis(4, 2, 3, tubelet=(1, 16, 16), prefix=("CLS",))
    n = len(axis)
    spatial_t = torch.from_numpy(random_attention(rng, (4, 2, 7, 7)))
    temporal_t = torch.from_numpy(random_attention(rng, (6, 2, 4, 4)))
    grids = _tsf.timesformer_grids([spatial_t, spatial_t.flip(0)], [temporal_t, temporal_t.flip(0)], axis, {})
    s = grids["spatial"].to_dense().values.mean(1)
    t = grids["temporal"].to_dense().values.mean(1)
    eye = np.eye(n)
    total = eye
    for layer in range(2):
        total = (0.5 * eye + 0.5 * s[layer]) @ (0.5 * eye + 0.5 * t[layer]) @ total
    amap = va.space_time_rollout(grids, readout="cls")
    np.testing.assert_allclose(amap.values, total[0], atol=1e-10)
    assert amap.values.sum() == pytest.approx(1.0)


def test_relevance_matches_chefer_reference(small_videomae, frames16):
    videomae = small_videomae
    pixels = va.frames_to_pixel_values(frames16[:8], 64)
    amap = va.relevance(videomae, pixels, target=2)
    # independent reference: gradients from autograd, rule from multiattn.analysis
    from multiattn.adapters._hf import eager_attention

    with eager_attention(videomae):
        out = videomae(pixel_values=pixels, output_attentions=True)
    for a in out.attentions:
        a.retain_grad()
    out.logits[0, 2].backward()
    attn = np.stack([a[0].detach().numpy() for a in out.attentions])
    grads = np.stack([a.grad[0].numpy() for a in out.attentions])
    np.testing.assert_allclose(amap.values, chefer_relevance(attn, grads).mean(axis=0), rtol=1e-4, atol=1e-9)
    assert amap.meta["target"] == 2


def test_timesformer_relevance_runs(timesformer, frames16):
    amap = va.relevance(timesformer, frames16[:8], fps=4)
    assert amap.values.shape == (1 + 8 * 196,) and (amap.values >= 0).all()
    assert frame_maps(amap).shape == (8, 14, 14)


def test_more_frames_are_sampled_uniformly(small_videomae, frames16):
    long = np.repeat(frames16[:8], 2, axis=0)  # 16 frames, each twice
    np.testing.assert_array_equal(sample_frame_indices(16, 8), np.arange(8) * 2 + 1)
    a = va.capture(small_videomae, long).values
    b = va.capture(small_videomae, frames16[:8]).values
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_high_resolution_frames(small_videomae):
    big = np.zeros((8, 1080, 1920, 3), np.uint8)
    big[:, :540, :960] = 255  # top-left quarter white
    pixels = va.frames_to_pixel_values(big, 64)
    assert pixels.shape == (1, 8, 3, 64, 64)
    white = (1 - 0.485) / 0.229
    assert pixels[0, 0, 0, 10, 10].item() == pytest.approx(white, abs=1e-4)
    assert va.capture(small_videomae, big).shape[-1] == 64


def test_grayscale_frames_accepted(videomae):
    gray = np.random.default_rng(1).integers(0, 256, size=(16, 100, 150), dtype=np.uint8)
    grid = va.capture(videomae, gray)
    assert grid.shape[-1] == 1568


@pytest.mark.parametrize(
    "frames, message",
    [
        (np.zeros((0, 224, 224, 3), np.uint8), "0 frames"),
        ([], "0 frames"),
        (np.zeros((4, 224, 224, 3), np.uint8), "needs 16 frames but the clip has 4"),
        ([np.zeros((224, 224, 3), np.uint8)] * 15 + [np.zeros((200, 224, 3), np.uint8)], "varying sizes"),
        (np.zeros((16, 224, 224, 2), np.uint8), "frames must have shape"),
        (np.full((16, 8, 8, 3), np.nan), "NaN"),
    ],
)
def test_bad_frames(videomae, frames, message):
    with pytest.raises(ValueError, match=message):
        va.capture(videomae, frames)


def test_unsupported_model_and_bad_readout(small_videomae, frames16):
    videomae, frames16 = small_videomae, frames16[:8]
    class Other:
        config = type("C", (), {"model_type": "vit"})()

    with pytest.raises(ValueError, match="unsupported video model"):
        va.capture(Other(), frames16)
    grid = va.capture(videomae, frames16)
    with pytest.raises(ValueError, match="no CLS token"):
        va.readout_attention(grid, readout="cls")
    with pytest.raises(ValueError, match="residual"):
        va.space_time_rollout(grid, residual=1.0)
    with pytest.raises(ValueError, match="target class 7"):
        va.relevance(videomae, frames16, target=7)


def test_readout_token_entry_is_zeroed(rng):
    axis = VideoAxis(2, 2, 2, tubelet=(2, 8, 8))
    grid = AttentionGrid(random_attention(rng, (1, 1, 4, 4)), axis, meta={"readout": 0})
    amap = va.readout_attention(grid)
    assert amap.values[0] == 0
    assert amap.values[1:].tolist() == pytest.approx(grid.values[0, 0, 0, 1:].tolist())


def test_processor_crop_is_recorded_and_maps_land_on_original_pixels():
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification, VideoMAEImageProcessor

    from multiattn.axes import axis_from_dict
    from multiattn.renderers.frames import overlay_frames
    from multiattn.renderers.image import patch_values_to_pixels

    torch.manual_seed(0)
    model = VideoMAEForVideoClassification(VideoMAEConfig(num_frames=8, image_size=64, patch_size=16,
                                                          tubelet_size=2, num_hidden_layers=1, num_labels=3,
                                                          **SMALL)).eval()
    # 48x96 frames: the processor resizes the short side to 64 (64x128) and centre-crops 64x64
    processor = VideoMAEImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    frames = np.random.default_rng(0).integers(0, 256, (8, 48, 96, 3), dtype=np.uint8)
    grid = va.capture(model, frames, processor=processor)
    axis = grid.query
    assert axis.transform == {"original_size": (48, 96), "resize": (64, 128), "crop": (0, 32, 64, 64)}
    assert axis_from_dict(axis.to_dict()).transform == axis.transform
    hot = np.zeros(len(axis))
    hot[axis.labels.index("t0r1c2")] = 1.0
    placed = patch_values_to_pixels(AttentionMap(frame_maps(AttentionMap(hot, axis))[0].ravel(),
                                                 axis.frame_axis), (48, 96), upsample="nearest")
    # patch (1, 2) covers rows 16..32, cols 32+32..32+48 of the resized frame; x 0.75 back to 48x96
    assert np.argwhere(placed == 1).min(0).tolist() == [12, 48]
    assert np.argwhere(placed == 1).max(0).tolist() == [23, 59]
    assert np.isnan(placed[:, :24]).all() and np.isnan(placed[:, 72:]).all()  # cropped away
    overlaid, _, _ = overlay_frames(frames, AttentionMap(hot, axis), upsample="nearest")
    changed = np.abs(overlaid[0].astype(int) - frames[0]).sum(-1) > 0
    assert not changed[:, :24].any() and changed[12:24, 48:60].all()


def _tiny_vjepa2():
    from transformers import VJEPA2Config, VJEPA2Model

    torch.manual_seed(0)
    config = VJEPA2Config(crop_size=32, frames_per_clip=4, tubelet_size=2, patch_size=8, hidden_size=32,
                          num_hidden_layers=1, num_attention_heads=2, mlp_ratio=2.0, pred_hidden_size=32,
                          pred_num_hidden_layers=1, pred_num_attention_heads=2)
    return VJEPA2Model(config).eval()


def test_vjepa2_hot_tubelet_lands_on_its_token():
    """V-JEPA 2's Conv3d tubelets are time-major: a tubelet lit at (time 1, row 2, col 3) is token t1r2c3."""
    model = _tiny_vjepa2()
    grid = va.capture(model, np.zeros((4, 32, 32, 3), np.uint8), fps=4)
    axis = grid.query
    assert (axis.frames, axis.rows, axis.cols, axis.tubelet, axis.prefix) == (4, 4, 4, (2, 8, 8), ())
    embed = model.encoder.embeddings
    cold = torch.zeros(1, 4, 3, 32, 32)
    hot = cold.clone()
    hot[0, 2:4, :, 16:24, 24:32] = 5.0
    with torch.no_grad():
        changed = np.flatnonzero((embed(hot) - embed(cold)).abs().sum(-1)[0].numpy() > 1e-6)
    assert changed.tolist() == [axis.labels.index("t1r2c3")]
    assert grid.meta["readout"].startswith("attentive pooler")
    batch = va.prepare(model, np.zeros((4, 32, 32, 3), np.uint8))
    assert set(batch) == {"pixel_values_videos", "skip_predictor"}


def test_xclip_hot_patch_lands_on_its_token_and_frame_maps_draw_it():
    from transformers import XCLIPConfig, XCLIPModel

    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
    torch.manual_seed(0)
    vision = dict(image_size=32, patch_size=8, num_frames=4, mit_hidden_size=16, mit_intermediate_size=32,
                  mit_num_hidden_layers=1, mit_num_attention_heads=2, **small)
    model = XCLIPModel(XCLIPConfig(text_config=dict(vocab_size=50, max_position_embeddings=8, **small),
                                   vision_config=vision, projection_dim=16)).eval()
    grids = va.capture(model, np.zeros((4, 32, 32, 3), np.uint8), fps=4)
    axis = grids["spatial"].query
    assert axis.labels[:9] == (*(f"CLS.{t}" for t in range(4)), *(f"MSG.{t}" for t in range(4)), "t0r0c0")
    embed = model.vision_model.embeddings
    cold = torch.zeros(4, 3, 32, 32)
    hot = cold.clone()
    hot[2, :, 8:16, 24:32] = 5.0  # frame 2, patch row 1, col 3
    with torch.no_grad():
        diff = (embed(hot) - embed(cold)).abs().sum(-1).numpy() > 1e-6  # (frames, 1 + patches)
    assert [tuple(i) for i in np.argwhere(diff)] == [(2, 1 + 1 * 4 + 3)]
    # the CLS.2 query of the spatial step attends only within frame 2 (+ MSG.2)
    row = grids["spatial"].row(axis.labels.index("CLS.2"), layer=0, head=0)
    volume = frame_maps(row)
    assert volume.shape == (4, 4, 4) and volume[[0, 1, 3]].sum() == 0
    np.testing.assert_allclose(volume[2].sum() + row.values[axis.labels.index("MSG.2")]
                               + row.values[axis.labels.index("CLS.2")], 1.0, atol=1e-5)
