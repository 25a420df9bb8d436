"""Grid files are validated before anything is used or allocated (issue 18).

Each bad file gets one line from the package that names the file and what is wrong; the CLI
prints it without a traceback.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

import multiattn
from multiattn import AttentionGrid, AttentionTooLargeError, TokenAxis
from multiattn.cli import main
from tests._bad_input_corpus import _rewrite_header


def _with_header(tmp_path, change) -> str:
    """Save a good grid, then rewrite its JSON header with ``change(header)`` (the corpus's helper)."""
    return str(_rewrite_header(tmp_path, change))


CASES = {
    "newer format version": (lambda h: {**h, "version": 99}, "newer multiattn (grid format version 99"),
    "header is a JSON list": (lambda h: [h], "header is not a grid's"),
    "header is not JSON": (lambda h: "{not json", "header is not JSON"),
    "layers of the wrong type": (lambda h: {**h, "layers": "l0"}, "header field 'layers' is a str"),
    "missing field": (lambda h: {k: v for k, v in h.items() if k != "kind"}, "lacks 'kind'"),
    "unknown axis type": (lambda h: {**h, "query": {**h["query"], "type": "nope"}}, "bad axis"),
    "axis with a wrong key": (lambda h: {**h, "query": {**h["query"], "colour": 1}}, "bad axis"),
    "duplicate layer labels": (lambda h: {**h, "layers": ["l0", "l0"]}, "layer labels must be unique"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_headers_are_refused_in_one_line(tmp_path, case):
    change, message = CASES[case]
    path = _with_header(tmp_path, change)
    with pytest.raises(ValueError) as info:
        multiattn.load_grids(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert "bad.npz" in str(info.value) or "unique" in message


def test_a_declared_shape_is_checked_before_allocation(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (64, 64, 4096, 4096)})
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:  # 256 GB declared, 100 bytes on disk
        archive.writestr("values.npy", header.getvalue())
    with pytest.raises(AttentionTooLargeError, match="huge.npz needs 256.0 GB"):
        multiattn.load_grids(tmp_path / "huge.npz")


def test_duplicate_layer_labels_are_refused_when_building_a_grid():
    with pytest.raises(ValueError, match=r"repeated: \['L'\]"):
        AttentionGrid(np.full((2, 1, 2, 2), 0.5), TokenAxis(["a", "b"]), layers=["L", "L"])


def test_the_cli_prints_one_line_and_no_traceback(tmp_path, capsys):
    path = _with_header(tmp_path, lambda h: {**h, "version": 7})
    assert main(["analyze", path, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "newer multiattn" in err
