"""CLI pipelines (``--save`` -> ``html`` / ``analyze``), one-line errors, and the demo's degradation."""

import json

import numpy as np
import pytest
from PIL import Image

import multiattn
from multiattn.cli import main
from multiattn.zoo._clip import make_scene

SENTENCE = "cat dog owl cat dog owl"


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err  # may also hold a progress bar of transformers' weight loading
    lines = [line for line in err.splitlines() if line.startswith("multiattn ")]
    assert len(lines) == 1 and lines[0].startswith(f"multiattn {command}: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def saved_text(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipeline")
    assert main(["text", SENTENCE, "--model", "induction", "--out", str(tmp / "text"),
                 "--save", str(tmp / "g.npz")]) == 0
    return tmp


def test_text_save_equals_the_api_capture(saved_text):
    saved = multiattn.load_grids(saved_text / "g.npz")
    model, tokenizer = multiattn.load_model("induction")
    direct = multiattn.capture(model, SENTENCE, processor=tokenizer)
    assert isinstance(saved, multiattn.AttentionGrid) and saved.shape == direct.shape == (2, 4, 7, 7)
    np.testing.assert_array_equal(saved.values, direct.values)
    assert saved.query.labels == direct.query.labels and saved.layers == direct.layers
    assert (saved_text / "text" / "metrics.json").is_file()


def test_saved_grid_feeds_analyze_and_html(saved_text, capsys):
    out = saved_text / "analysis"
    assert main(["analyze", str(saved_text / "g.npz"), "--out", str(out)]) == 0
    report = json.loads((out / "analysis.json").read_text())
    assert report["shape"] == [2, 4, 7, 7] and (out / "summary.png").stat().st_size > 0
    assert main(["html", str(saved_text / "g.npz"), "--out", str(saved_text / "v.html")]) == 0
    page = (saved_text / "v.html").read_text()
    assert page.lower().startswith("<!doctype html>") and "owl" in page
    assert str(saved_text / "v.html") in capsys.readouterr().out


def test_gridset_save_and_grid_choice(tmp_path, capsys):
    scene = make_scene(np.random.default_rng(3))
    image = tmp_path / "scene.png"
    Image.fromarray(scene.image).save(image)
    saved = tmp_path / "clip.npz"
    assert main(["clip", str(image), scene.caption, "a green triangle", "--out", str(tmp_path / "c.png"),
                 "--save", str(saved)]) == 0
    grids = multiattn.load_grids(saved)
    assert isinstance(grids, multiattn.GridSet) and list(grids) == ["vision", "text.0", "text.1"]
    model, processor = multiattn.load_model("tiny-clip")
    direct = multiattn.capture(model, (scene.image, [scene.caption, "a green triangle"]), processor=processor)
    for name in grids:
        np.testing.assert_allclose(grids[name].values, direct[name].values, atol=1e-6)
    capsys.readouterr()
    assert main(["analyze", str(saved), "--out", str(tmp_path / "a")]) == 0  # default: the first grid
    assert "grid 'vision' of vision, text.0, text.1" in capsys.readouterr().out
    assert main(["html", str(saved), "--grid", "text.1", "--out", str(tmp_path / "t.html")]) == 0
    assert "triangle" in (tmp_path / "t.html").read_text()
    assert main(["html", str(saved), "--grid", "audio", "--out", str(tmp_path / "x.html")]) == 2
    err = _one_line_error(capsys, "html")
    assert "no grid 'audio' in this GridSet; it holds vision, text.0, text.1" in err


def test_grid_option_on_a_single_grid_and_bad_files(saved_text, tmp_path, capsys):
    assert main(["analyze", str(saved_text / "g.npz"), "--grid", "cross", "--out", str(tmp_path)]) == 2
    assert "holds one grid, not a GridSet" in _one_line_error(capsys, "analyze")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    assert main(["html", str(junk), "--out", str(tmp_path / "v.html")]) == 2
    assert "not a readable multiattn grid" in _one_line_error(capsys, "html")


def test_layer_out_of_range_is_one_line(tmp_path, capsys):
    assert main(["text", SENTENCE, "--model", "induction", "--layer", "5", "--out", str(tmp_path)]) == 2
    assert "outside the model's 2 layers x 4 heads" in _one_line_error(capsys, "text")


def test_unwritable_out_is_one_line(saved_text, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["analyze", str(saved_text / "g.npz"), "--out", str(blocker / "out")]) == 2
    _one_line_error(capsys, "analyze")
    assert main(["text", SENTENCE, "--model", "induction", "--out", str(blocker / "out")]) == 2
    _one_line_error(capsys, "text")


def test_wrong_modality_model_is_refused(tmp_path, capsys):
    assert main(["depth", "cat dog", "--model", "shapes-vit", "--out", str(tmp_path)]) == 2
    assert "is a image model" in _one_line_error(capsys, "depth")


def test_demo_rejects_unknown_sections_and_names_real_ones(tmp_path, capsys):
    assert main(["demo", "--only", "text", "speech", "--out", str(tmp_path)]) == 2
    err = _one_line_error(capsys, "demo")
    assert "'speech'" in err and "text, image, clip, audio, graph, video, depth" in err
    assert not (tmp_path / "text").exists()
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "analyze, html, report" in " ".join(capsys.readouterr().out.split())


def test_demo_without_chromium_renders_the_rest_and_says_what_it_skipped(tmp_path, monkeypatch, capsys):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["demo", "--only", "analyze", "html", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("[demo] skipped Interactive HTML views: Screenshot") == 7
    assert "chromium not found" in out and "7 items, 7 skipped" in out
    for page in ("minilm_text", "shapes_vit_image", "karate_graph", "whisper_audio", "moving_shapes_video"):
        assert (tmp_path / "html" / f"{page}.html").stat().st_size > 1000
    assert not list((tmp_path / "html").glob("*.png"))
    assert (tmp_path / "analyze" / "synthetic_heads.png").is_file()
    index = (tmp_path / "index.md").read_text()
    assert index.count("*skipped: chromium not found") == 7 and "synthetic_heads.png" in index
