"""Adaptive rows of the HTML views (renderers/_html_mass.py): each row keeps >= the mass target, exactly
its largest keys, deflated within the byte budget; decoded here independently of the encoder."""

import base64
import zlib

import numpy as np
import pytest

from multiattn.renderers._html_mass import keys_for_mass, pack_mass
from multiattn.renderers._html_pack import pack_rows


def _peaked(rng, shape, temperature=3.0):
    """Random softmax rows of ``temperature`` x N(0, 1) logits (real heads are about this peaked)."""
    logits = rng.standard_normal(shape) * temperature
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    return (weights / weights.sum(-1, keepdims=True)).astype(np.float32)


def _decode(weights: dict) -> dict:
    """The blob's sections, read with numpy from the layout (byte planes, little-endian)."""
    raw = zlib.decompress(base64.b64decode(weights["blob"]))
    out, at = {}, 0
    for name, size, n in weights["layout"]:
        planes = np.frombuffer(raw, np.uint8, size * n, at).reshape(size, n)
        dtype = {1: "<u1", 2: "<u2", 4: "<f4" if name == "scale" else "<u4"}[size]
        out[name] = np.ascontiguousarray(planes.T).view(dtype).ravel()
        at += size * n
    assert at == len(raw)
    return out


def _reference_k(rows: np.ndarray, target: float) -> np.ndarray:
    """Fewest largest keys per row reaching ``target`` of its mass, one row at a time (float64)."""
    out = []
    for row in rows.astype(np.float64):
        cum = np.cumsum(np.sort(row)[::-1]) / row.sum()
        out.append(int(np.argmax(cum >= target - 1e-12)) + 1)
    return np.array(out)


def test_every_row_keeps_its_largest_keys_up_to_the_target():
    rng = np.random.default_rng(0)
    rows = _peaked(rng, (2, 12, 64, 128)).reshape(-1, 128)
    weights, summary = pack_mass(rows, rows.max(axis=1), target=0.9, max_bytes=10**7)
    np.testing.assert_array_equal(keys_for_mass(rows, 0.9), _reference_k(rows, 0.9))
    got = _decode(weights)
    counts = got["counts"].astype(int)
    np.testing.assert_array_equal(counts, _reference_k(rows, 0.9))
    keys = np.split(got["deltas"].astype(int), np.cumsum(counts)[:-1])
    values = np.split(got["q"].astype(float), np.cumsum(counts)[:-1])
    shares = []
    for r in range(0, len(rows), 97):
        cols = np.cumsum(keys[r])
        assert np.all(np.diff(cols) > 0)  # ascending, no repeats
        expected = np.sort(np.argsort(-rows[r], kind="stable")[: counts[r]])
        np.testing.assert_array_equal(cols, expected)
        np.testing.assert_allclose(values[r] * got["scale"][r] / 255, rows[r, cols],
                                   atol=rows[r].max() / 510 + 1e-7)
        shares.append(rows[r, cols].sum(dtype=np.float64) / rows[r].sum(dtype=np.float64))
        assert got["dropped"][r] == round((1 - shares[-1]) * 255)
    assert min(shares) >= 0.9 and summary["kept_min"] >= 0.9 and summary["rows_capped"] == 0
    assert summary["k_min"] == counts.min() and summary["k_max"] == counts.max()
    assert summary["kept_median"] == pytest.approx(np.median(
        [rows[r, np.argsort(-rows[r])[: counts[r]]].sum(dtype=np.float64) / rows[r].sum(dtype=np.float64)
         for r in range(len(rows))]), abs=1e-9)


def test_budget_lowers_the_per_row_cap_and_says_so():
    rng = np.random.default_rng(1)
    values = _peaked(rng, (1, 4, 64, 256), temperature=1.0)  # diffuse rows: ~150 keys for 90 %
    weights, summary = pack_rows(values, max_bytes=20_000)
    assert summary["mode"] == "mass" and summary["bytes"] <= 20_000
    assert summary["rows_capped"] > 0 and summary["k_max"] == summary["cap"] < 150
    assert summary["kept_min"] < 0.9
    counts = _decode(weights)["counts"]
    assert counts.max() == summary["cap"]


def test_deflated_rows_are_smaller_than_fixed_top_k_at_the_same_kept_mass():
    rng = np.random.default_rng(2)
    values = _peaked(rng, (1, 12, 128, 512))
    _, mass = pack_rows(values, max_bytes=100_000)
    _, fixed = pack_rows(values, top_k=mass["k_max"])  # the fixed k that also keeps >= 90 % everywhere
    assert mass["kept_min"] >= 0.9 and fixed["dropped_max"] <= 0.1 + 1e-6
    assert mass["bytes"] < 0.5 * fixed["bytes"]

