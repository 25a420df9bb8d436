import json

import numpy as np
import pytest

from multiattn import AttentionGrid, TokenAxis
from multiattn._gallery.analyze import render as gallery
from multiattn.analysis.report import analysis_report
from multiattn.cli import main

from .conftest import random_attention


def _grid(rng):
    labels = ["[CLS]", "the", "cat", ".", "[SEP]", "[PAD]"]
    values = random_attention(rng, (2, 3, 6, 6))
    return AttentionGrid(values, TokenAxis(labels, [1, 0, 0, 0, 1, 1]), meta={"model": "random"})


def test_analyze_writes_report_and_summary(rng, tmp_path, capsys):
    grid = _grid(rng)
    path = grid.save(tmp_path / "grid.npz")
    assert main(["analyze", str(path), "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert (tmp_path / "out" / "summary.png").stat().st_size > 0
    assert report["shape"] == [2, 3, 6, 6] and len(report["head_types"]) == 6
    entropy = np.asarray(report["per_head"]["entropy_nats"])
    by_hand = -(grid.values[1, 2] * np.log(grid.values[1, 2])).sum(-1).mean()
    assert entropy[1, 2] == pytest.approx(by_hand, rel=1e-5)
    padding = next(d for d in report["diagnostics"] if d["check"] == "padding")
    assert len(padding["heads"]) == 6  # random heads attend to the [PAD] key
    assert "padding:" in capsys.readouterr().out


def test_report_on_cross_attention_skips_positional_parts(rng):
    values = random_attention(rng, (1, 2, 3, 5))
    report = analysis_report(values)
    assert report["kind"] == "cross" and "head_types" not in report
    assert "attention_distance (positions)" not in report["per_head"]
    json.dumps(report, allow_nan=False)  # valid JSON: no NaN


def test_analyze_bad_files(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing.npz"), "--out", str(tmp_path)]) == 2
    assert "no grid file" in capsys.readouterr().err
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    assert main(["analyze", str(junk), "--out", str(tmp_path)]) == 2
    assert "not a readable multiattn grid" in capsys.readouterr().err
    np.savez(tmp_path / "other.npz", values=np.ones(3))
    assert main(["analyze", str(tmp_path / "other.npz"), "--out", str(tmp_path)]) == 2
    assert "not a readable multiattn grid" in capsys.readouterr().err


def test_gallery_classifies_every_synthetic_head(tmp_path):
    items = gallery(tmp_path / "analyze")
    assert len(items) == 2 and all(item.path.stat().st_size > 0 for item in items)
    assert items[1].caption.startswith("10 of 10 synthetic heads")
