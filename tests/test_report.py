"""The one-command HTML report: complete, self-contained, escaped, opens offline."""

from pathlib import Path

from multiattn.adapters.textdepth import text_depth
from multiattn.cli import main
from multiattn.renderers.writers import write_report
from multiattn.zoo._text import load_induction, load_minilm

from ._chromium import run_chromium


def _report(model_and_tokenizer, text, path, steps):
    model, tokenizer = model_and_tokenizer
    return write_report(text_depth(model, text, processor=tokenizer, steps=steps), path)


def test_report_on_language_model_has_every_section(tmp_path):
    path = _report(load_induction(), "cat dog fox owl cat dog fox owl", tmp_path / "r.html", steps=4)
    page = path.read_text()
    for section in ("Diagnostics", "Head types", "Metrics by layer and head", "Model view",
                    "Most important heads", "Is attention explanation?", "Attention flow", "Head clusters"):
        assert f">{section}" in page
    assert "importance |dL/dm|" in page and "http" not in page and "<script" not in page
    dom = run_chromium(path, dump_dom=True)
    assert dom.count("<img") >= 7 and "Head types" in dom


def test_report_escapes_tokens_and_names_encoder_limits(tmp_path):
    payload = "<img src=x onerror=alert(1)>"
    path = _report(load_minilm(), f"The {payload} fox.", tmp_path / "r.html", steps=4)
    page = path.read_text()
    assert payload not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "no language-model head" in page
    dom = run_chromium(path, dump_dom=True)
    assert dom.count("<img") == 6  # the figures only: the payload stayed text


def test_report_cli_errors(tmp_path, capsys):
    assert main(["report", "--model", "induction", "--input", " ", "--out", str(tmp_path / "x.html")]) == 2
    assert "input text is empty" in capsys.readouterr().err
    assert main(["report", "--model", "induction", "--input", "cat dog", "--token", "9",
                 "--out", str(tmp_path / "x.html")]) == 2
    assert "outside the 3 tokens" in capsys.readouterr().err
    assert not Path(tmp_path / "x.html").exists()


def test_report_unknown_model(tmp_path, capsys):
    out = str(tmp_path / "x.html")
    assert main(["report", "--model", "no-such-model", "--input", "cat", "--out", out]) == 2
    assert "no-such-model" in capsys.readouterr().err
