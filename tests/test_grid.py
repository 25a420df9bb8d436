import numpy as np
import pytest

from multiattn import (
    AttentionGrid,
    AttentionMap,
    AttentionTooLargeError,
    DimensionIndexError,
    NodeAxis,
    PatchAxis,
    RowSumWarning,
    TimeAxis,
    TokenAxis,
    VideoAxis,
)
from multiattn.axes import axis_from_dict

from .conftest import random_attention


def test_shape_must_match_axes(rng):
    with pytest.raises(ValueError, match=r"\(layers, heads, 3, 3\)"):
        AttentionGrid(random_attention(rng, (1, 1, 4, 4)), TokenAxis(list("abc")))


def test_missing_dims_hint(rng):
    with pytest.raises(ValueError, match="values\\[None, None\\]"):
        AttentionGrid(random_attention(rng, (3, 3)), TokenAxis(list("abc")))


def test_nan_rejected_with_position(rng):
    values = random_attention(rng, (1, 2, 3, 3))
    values[0, 1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"non-finite.*\(0, 1, 2, 0\)"):
        AttentionGrid(values, TokenAxis(list("abc")))


def test_non_numeric_rejected():
    with pytest.raises(TypeError):
        AttentionGrid(np.array([[["a"]]]), TokenAxis(["x"]))


def test_rows_not_summing_warn_and_normalise(rng):
    values = random_attention(rng, (1, 1, 3, 3)) * 2
    with pytest.warns(RowSumWarning, match="do not sum to 1"):
        AttentionGrid(values, TokenAxis(list("abc")))
    grid = AttentionGrid(values, TokenAxis(list("abc")), normalize=True)
    np.testing.assert_allclose(grid.values.sum(-1), 1, rtol=1e-6)
    assert "normalized" in grid.meta


def test_label_mismatch(rng):
    with pytest.raises(ValueError, match="3 layer labels for 1 layers"):
        AttentionGrid(random_attention(rng, (1, 1, 2, 2)), TokenAxis(["a", "b"]), layers=["x", "y", "z"])
    with pytest.raises(ValueError, match="special_mask has 1 entries"):
        TokenAxis(["a", "b"], special_mask=[True])


def test_select_reduce_row(rng):
    values = random_attention(rng, (3, 4, 5, 5))
    grid = AttentionGrid(values, TokenAxis(list("abcde")), layers=["l0", "l1", "l2"])
    sub = grid.select(layer="l1", head=[1, 3])
    np.testing.assert_array_equal(sub.values, values[1:2][:, [1, 3]])
    assert sub.layers == ("l1",) and sub.heads == ("1", "3")
    mean = grid.reduce("max", over="layer")
    np.testing.assert_allclose(mean.values[0], values.max(0))
    row = grid.row(2, layer=0, head=1)
    np.testing.assert_allclose(row.values, values[0, 1, 2])
    np.testing.assert_allclose(grid.row(2, layer=0).values, values[0, :, 2].mean(0), rtol=1e-6)
    with pytest.raises(KeyError, match=r"no layer 'nope': the grid has 3 layers \(l0, l1, l2\)"):
        grid.select(layer="nope")
    assert grid.values is not sub.values and not grid.values.flags.writeable


def test_index_errors_are_one_catchable_type(rng):
    grid = AttentionGrid(random_attention(rng, (6, 2, 12, 12)), TokenAxis([f"t{i}" for i in range(12)]),
                         layers=[f"layer.{i}" for i in range(6)])
    assert grid.select(layer=-1).layers == ("layer.5",)
    assert grid.row("t3", layer="layer.0", head=-2).meta == {"layer": "layer.0", "head": "0", "query": 3}
    assert grid.row(-1).meta["query"] == 11
    with pytest.raises(DimensionIndexError) as info:
        grid.select(layer=7)
    message = str(info.value)
    assert message == "layer 7 out of range: the grid has 6 layers (layer.0, layer.1, layer.2, layer.3, " \
                      "layer.4, layer.5); valid: 0..5 or -6..-1"
    assert isinstance(info.value, IndexError) and isinstance(info.value, KeyError)
    with pytest.raises(LookupError, match=r"query 12 out of range: the grid has 12 queries \(t0 … t11\)"):
        grid.row(12)
    with pytest.raises(KeyError, match="no head 'h9'"):
        grid.select(head=["0", "h9"])
    with pytest.raises(IndexError, match="no query 'zz'"):
        grid.row("zz")


def test_save_load_roundtrip_dense(tmp_path, rng):
    query = TokenAxis(["[CLS]", "hi", "[SEP]"], special_mask=[1, 0, 1], char_spans=[(0, 0), (0, 2), (0, 0)])
    key = PatchAxis(2, 3, 16, (32, 48), prefix=("CLS", "REG0"),
                    transform={"original_size": (64, 96), "resize": (32, 48), "crop": (0, 0, 32, 48)})
    values = rng.random((2, 2, 3, 8)).astype(np.float32)
    grid = AttentionGrid(values, query, key, kind="cross", meta={"model": "x"}, check_rows=False)
    path = grid.save(tmp_path / "g")
    back = AttentionGrid.load(path)
    np.testing.assert_array_equal(back.values, values)
    assert back.query == query and back.key == key and back.kind == "cross"
    assert back.meta == {"model": "x"} and back.key.transform["original_size"] == (64, 96)


def test_save_load_sparse(tmp_path):
    edges = np.array([[0, 1, 2, 1], [1, 0, 1, 1]])
    values = np.array([[[0.5, 1.0, 0.25, 0.25]]], dtype=np.float32)
    grid = AttentionGrid(values, NodeAxis([10, 11, 12], groups=[0, 0, 1]), edge_index=edges)
    back = AttentionGrid.load(grid.save(tmp_path / "g.npz"))
    np.testing.assert_array_equal(back.edge_index, edges)
    dense = back.to_dense().values[0, 0]
    assert dense[1, 0] == 0.5 and dense[1, 2] == 0.25 and dense[1, 1] == 0.25 and dense[0, 1] == 1.0
    with pytest.raises(AttentionTooLargeError, match="select fewer|Select fewer"):
        back.to_dense(limit_bytes=8)


def test_sparse_bad_edges():
    with pytest.raises(ValueError, match="outside the axes"):
        AttentionGrid(np.ones((1, 1, 1)), NodeAxis([0, 1]), edge_index=np.array([[0], [5]]))


def test_patch_and_video_axes():
    axis = PatchAxis(14, 20, 16, (224, 320), prefix=("CLS", "DIST"))
    vec = np.arange(len(axis))
    image = axis.to_image(vec)
    assert image.shape == (14, 20) and image[0, 0] == 2 and image[1, 0] == 22
    assert np.isnan(axis.coords()[0]).all() and axis.coords()[2 + 21].tolist() == [1, 1]
    video = VideoAxis(16, 14, 14, tubelet=(2, 16, 16), fps=8)
    vol = video.to_volume(np.arange(len(video)))
    assert vol.shape == (8, 14, 14) and vol[1, 0, 0] == 196 and vol[0, 1, 0] == 14
    np.testing.assert_allclose(video.times[:2], [0.125, 0.375])
    for a in (axis, video, TimeAxis(5, 0.02, 1.0), NodeAxis(["a", "b"], labels=["A", "B"])):
        assert axis_from_dict(a.to_dict()) == a
    np.testing.assert_allclose(TimeAxis(2, 0.02, 1.0).times, [1.01, 1.03])
    with pytest.raises(ValueError, match="multiple of the tubelet"):
        VideoAxis(15, 14, 14, tubelet=(2, 16, 16))


def test_map_basics():
    m = AttentionMap([0.1, -0.3, 0.6], TokenAxis(list("abc")))
    assert m.signed and m.top(1)[0][:2] == (2, "c")
    np.testing.assert_allclose(np.abs(m.normalized().values).sum(), 1)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        AttentionMap([1.0], TokenAxis(list("abc")))
