"""The drift section of the HTML report: verdicts in words, escaped names, offline, renders in chromium."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

pytest.importorskip("datasketches")

from multiattn._summary import Profile  # noqa: E402
from multiattn.drift import drift  # noqa: E402
from multiattn.renderers._write_drift import drift_section, write_drift_page  # noqa: E402

from ._chromium import run_chromium  # noqa: E402

XSS_MODEL = "<img src=x onerror=\"window.__xss=1;document.title='pwned'\">"
XSS_LAYER = "</table><script>window.__xss=2;document.title='pwned'</script>"
STATS = ("entropy", "padding_share")


def _profiles(shift: bool, n: int = 300) -> tuple[Profile, Profile]:
    """Two profiles of 2 layers x 3 heads; with ``shift``, layer 1 head 2's entropy collapses onto padding."""
    rng = np.random.default_rng(0)
    layers = ("encoder.layer.0", XSS_LAYER)
    sides = []
    for side in range(2):
        values = np.empty((n, 2, 2, 3))
        values[:, 0] = rng.normal(2.0, 0.1, size=(n, 2, 3))  # entropy (nats)
        values[:, 1] = rng.uniform(0.0, 0.2, size=(n, 2, 3))  # padding share
        if shift and side == 1:
            values[:, 0, 1, 2] = rng.normal(0.4, 0.05, size=n)
            values[:, 1, 1, 2] = rng.uniform(0.6, 0.8, size=n)
        prof = Profile.empty(STATS, layers, 3, model_id=XSS_MODEL)
        prof.add(values)
        sides.append(prof)
    return sides[0], sides[1]


def _verdict_hand_written(report) -> str:
    """The verdict the numbers call for, spelled out independently of the report's wording code."""
    before, after = report.before[0, 1, 2], report.after[0, 1, 2]
    return (f"layer 1 head 2: entropy dropped from {before:.2f} to {after:.2f} nats "
            f"(KS {report.ks[0, 1, 2]:.2f}) — attention collapsed onto padding tokens")


def test_section_has_the_verdicts_and_escapes_model_and_layer_names():
    report = drift(*_profiles(shift=True))
    assert report.heads() == [(1, 2)]
    section = drift_section(report)
    assert html.escape(_verdict_hand_written(report)) in section
    assert "1 of 6 heads drifted" in section and "300 requests" in section
    for payload in (XSS_MODEL, XSS_LAYER):
        assert payload not in section and html.escape(payload) in section
    assert "<script" not in section and "http" not in section
    assert section.count("<img") == 2  # heatmap and distributions, embedded
    assert len(re.findall(r"src='data:image/png;base64,", section)) == 2
    assert re.search(r"heatmap \d+ kB, distributions \d+ kB", section)


def test_no_drift_is_said_in_words():
    section = drift_section(drift(*_profiles(shift=False)))
    assert "<b>No drift</b>" in section and "Most drifted heads" not in section
    assert section.count("<img") == 1  # only the heatmap: no drifted head to draw


def test_drift_page_renders_offline_in_chromium(tmp_path):
    report = drift(*_profiles(shift=True))
    page = write_drift_page(report, tmp_path / "drift.html")
    probe = ("var r={imgs:[].map.call(document.images,function(i){return i.complete&&i.naturalWidth}),"
             "rows:document.querySelectorAll('#drift table')[0].rows.length,xss:window.__xss||null,"
             "title:document.title,text:document.getElementById('drift').innerText};"
             "document.documentElement.setAttribute('data-probe',JSON.stringify(r));")
    dom = run_chromium(page, dump_dom=True, probe=probe)
    result = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    assert len(result["imgs"]) == 2 and all(w and w > 300 for w in result["imgs"])  # PNGs decoded
    assert result["rows"] == 2  # header + the one drifted head
    assert result["xss"] is None and result["title"] == "multiattn drift report"
    assert _verdict_hand_written(report) in result["text"]
    assert XSS_LAYER in result["text"] and XSS_MODEL in result["text"]  # shown as text, not run


def test_drift_and_report_cli_put_the_section_on_the_pages(tmp_path, capsys):
    from multiattn.cli import main

    ref, new = _profiles(shift=True)
    ref.save(tmp_path / "ref.npz")
    new.save(tmp_path / "new.npz")
    out = tmp_path / "drift"
    assert main(["drift", str(tmp_path / "ref.npz"), str(tmp_path / "new.npz"), "--out", str(out),
                 "--html"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"drift\.html \(\d+ kB, offline", printed)
    saved = json.loads((out / "drift.json").read_text())
    assert [(h["layer"], h["head"], h["statistic"]) for h in saved["heads"]] == [(1, 2, "entropy")]
    assert saved["reference_model"] == XSS_MODEL
    assert html.escape(saved["heads"][0]["verdict"]) in (out / "drift.html").read_text()
    report = tmp_path / "report.html"
    assert main(["report", "--model", "induction", "--input", "cat dog fox owl cat dog", "--steps", "2",
                 "--out", str(report), "--drift", str(out / "drift.json")]) == 0
    page = report.read_text()
    assert ">Head clusters" in page and "<section id='drift'>" in page  # the report, then drift
    assert html.escape(saved["verdicts"][0]) in page and XSS_LAYER not in page


def test_report_refuses_a_missing_or_foreign_drift_before_running_the_model(tmp_path, capsys):
    from multiattn.cli import main

    args = ["report", "--model", "induction", "--input", "cat dog", "--out", str(tmp_path / "r.html")]
    assert main([*args, "--drift", str(tmp_path / "nowhere")]) == 2
    assert "nowhere does not exist: give a drift report folder" in capsys.readouterr().err
    (tmp_path / "other.json").write_text('{"format": "something else"}', encoding="utf-8")
    assert main([*args, "--drift", str(tmp_path / "other.json")]) == 2
    assert "is not a drift report" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
