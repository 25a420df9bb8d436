"""The bad-input corpus (tests/_bad_input_corpus.py): every case is a clear error or handled right.

Each case is one test, so a regression names the input; the corpus itself must stay big enough to
mean something (>= 150 cases over the API and the CLI, in every category of issue 18).
"""

from __future__ import annotations

import pytest

from tests._bad_input_corpus import CliResult, all_cases, classify

CASES = all_cases()


def test_the_corpus_covers_api_and_cli_in_every_category():
    assert len(CASES) >= 150
    categories = {case.category for case in CASES}
    assert {"grid files", "images", "audio", "video", "graphs", "text", "HTML/SVG/mathtext injection",
            "CLI options and outputs", "models", "determinism and limits"} <= categories
    cli_cases = [case for case in CASES if case.name.startswith("cli ") or case.category.startswith("CLI")]
    assert len(cli_cases) >= 40
    names = [(case.category, case.name) for case in CASES]
    assert len(set(names)) == len(names), "two cases share a name"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.category}: {c.name}" for c in CASES])
def test_case(case, tmp_path):
    outcome, detail = classify(case, tmp_path)
    assert outcome in ("clear", "handled"), f"{outcome}: {detail}"


def test_the_classifier_can_fail(tmp_path):
    """A library's exception, a traceback and a silent success are all caught as failures."""
    from tests._bad_input_corpus import Case

    def library_error(tmp):
        raise KeyError("raw")

    assert classify(Case("x", "lib", library_error), tmp_path)[0] == "unclear"
    assert classify(Case("x", "silent", lambda t: 1), tmp_path)[0] == "wrong"
    assert classify(Case("x", "bad result", lambda t: 1, "ok", lambda r: r == 2), tmp_path)[0] == "wrong"
    traced = CliResult(2, "Traceback (most recent call last):\n  ...\n", tmp_path)
    assert classify(Case("x", "cli", lambda t: traced), tmp_path)[0] == "unclear"
    bug = CliResult(3, "multiattn x: internal error (KeyError)\n", tmp_path)
    assert classify(Case("x", "cli bug", lambda t: bug), tmp_path)[0] == "unclear"
