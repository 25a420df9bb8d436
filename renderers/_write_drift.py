"""The drift section of the HTML report, and a page of its own (``multiattn drift --html``).

The section shows a :class:`~multiattn.drift.DriftReport` — or what ``multiattn drift --out DIR``
wrote (``drift.json`` and its PNGs) — as: the verdict in one line (how many heads drifted,
thresholds, both sides' models and sizes), the layer × head drift heatmap, a table of the most
drifted heads with their verdicts in words, the before/after distributions and the largest KS
per statistic.  Pictures are embedded as base64 PNG (their sizes are stated), every model,
layer and statistic name is HTML-escaped, and nothing is loaded from the network.

Example
-------
>>> from multiattn.drift import drift
>>> section = drift_section(drift("reference.npz", "new.npz"))  # doctest: +SKIP
>>> section[:27]  # doctest: +SKIP
"<h2 id='drift'>Attention drift"
>>> write_drift_page("drift_out/", "drift_out/drift.html")  # doctest: +SKIP
PosixPath('drift_out/drift.html')
"""

from __future__ import annotations

import contextlib
import html
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

from ._write_page import _STYLE, _img, _table

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn.drift import DriftReport

__all__ = ["drift_section", "write_drift_page"]

#: What ``multiattn drift --out DIR`` writes, by role.
FILES = {"json": "drift.json", "heatmap": "drift_heatmap.png", "distributions": "drift_distributions.png"}


@contextlib.contextmanager
def _materials(source: DriftReport | str | Path,
               top: int) -> Iterator[tuple[dict[str, Any], dict[str, Path]]]:
    """``(report dict, {"heatmap": png, "distributions": png})`` of a report or a drift folder / JSON."""
    from multiattn.drift import DriftReport

    if isinstance(source, DriftReport):
        from .driftview import drift_distributions, drift_heatmap
        from .figure import save_figure

        with tempfile.TemporaryDirectory() as tmp:
            pictures = {"heatmap": save_figure(drift_heatmap(source).figure, Path(tmp) / FILES["heatmap"])}
            if source.drifted:
                pictures["distributions"] = save_figure(drift_distributions(source, top=top),
                                                        Path(tmp) / FILES["distributions"])
            yield source.to_dict(), pictures
        return
    folder, data = _read(Path(source))
    pictures = {role: folder / FILES[role] for role in ("heatmap", "distributions")
                if (folder / FILES[role]).is_file()}
    if "heatmap" not in pictures:
        raise MultiattnFileNotFoundError(
            f"{folder / FILES['heatmap']} does not exist: give the folder that "
            "`multiattn drift REF NEW --out DIR` wrote (drift.json with its pictures)")
    yield data, pictures


def _read(path: Path) -> tuple[Path, dict[str, Any]]:
    """The folder and the parsed ``drift.json`` of a drift folder or JSON path."""
    file = path / FILES["json"] if path.is_dir() else path
    if not file.is_file():
        raise MultiattnFileNotFoundError(
            f"{file} does not exist: give a drift report folder or its drift.json "
            "(multiattn drift REF NEW --out DIR)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MultiattnValueError(f"{file} is not a drift report ({exc}); "
                                  "write one with multiattn drift REF NEW --out DIR") from None
    if not isinstance(data, dict) or "heads" not in data or "verdicts" not in data:
        raise MultiattnValueError(f"{file} is not a drift report of this multiattn version (no 'heads'); "
                                  "write it again with multiattn drift REF NEW --out DIR")
    return file.parent, data


def _headline(data: dict[str, Any]) -> str:
    esc = html.escape
    heads = len(data["heads"])
    total = len(data["layers"]) * int(data["n_heads"])
    t = data["thresholds"]
    verdict = (f"<b>{heads} of {total} heads drifted</b>" if data["drifted"]
               else f"<b>No drift</b>: none of the {total} heads passed the thresholds")
    return (f"<p>{verdict} (a cell drifts when its KS distance is at least {t['min_ks']:g} and the KS "
            f"test rejects at family-wise level {t['alpha']:g}, Bonferroni over {t['bonferroni_cells']} "
            f"cells).</p><p><b>Reference</b>: {esc(str(data.get('reference_model', '')))}, "
            f"{int(data['n_reference'])} requests. <b>New</b>: {esc(str(data.get('new_model', '')))}, "
            f"{int(data['n_new'])} requests.</p>")


def _heads_table(rows: list[dict[str, Any]], top: int) -> str:
    body = [[i + 1, r["layer"], r["layer_name"], r["head"], r["statistic"], f"{r['before_median']:.3g}",
             f"{r['after_median']:.3g}", f"{r['ks']:.2f}", f"{r['psi']:.2f}", f"{r['wasserstein']:.3g}",
             r["verdict"]] for i, r in enumerate(rows[:top])]
    rest = len(rows) - top
    more = f"<p>{rest} more drifted head{'s are' if rest > 1 else ' is'} in drift.json.</p>" * (rest > 0)
    return (_table(["#", "layer", "layer name", "head", "statistic", "before (median)", "after (median)",
                    "KS", "PSI", "W1", "verdict"], body) + more)


def _kb(path: Path) -> str:
    return f"{path.stat().st_size / 1024:.0f} kB"


def drift_section(source: DriftReport | str | Path, *, top: int = 8) -> str:
    """HTML of the drift section: verdict, heatmap, the ``top`` drifted heads, distributions.

    Parameters
    ----------
    source : DriftReport, or a folder / ``drift.json`` written by ``multiattn drift --out DIR``
        A report draws its pictures here; a folder brings its own PNGs.
    top : int
        Drifted heads listed (and drawn, for a report) with their verdicts.

    Returns
    -------
    str
        One ``<section id='drift'>`` of escaped HTML with embedded PNGs.

    Examples
    --------
    >>> html_text = drift_section("drift_out")  # doctest: +SKIP
    >>> "heads drifted" in html_text or "No drift" in html_text  # doctest: +SKIP
    True
    """
    if top < 1:
        raise MultiattnValueError(f"top must be >= 1 drifted head, got {top}")
    with _materials(source, top) as (data, pictures):
        parts = ["<section id='drift'><h2>Attention drift</h2>", _headline(data),
                 _img(pictures["heatmap"], "drift heatmap: KS distance per layer and head")]
        if data["heads"]:
            parts += ["<h3>Most drifted heads</h3><p>Each head's most drifted statistic, its median "
                      "before and after, and the verdict in words.</p>", _heads_table(data["heads"], top)]
        if "distributions" in pictures:
            parts += ["<h3>Before and after</h3>",
                      _img(pictures["distributions"], "before/after distributions of the most drifted heads")]
        largest = sorted(data["max_ks_by_statistic"].items(), key=lambda kv: -kv[1])
        parts += ["<h3>Largest KS distance by statistic</h3>",
                  _table(["statistic", "max KS over heads"], [[k, f"{v:.2f}"] for k, v in largest])]
        sizes = ", ".join(f"{role} {_kb(path)}" for role, path in pictures.items())
        parts.append(f"<p><small>Pictures embedded as PNG ({sizes}); nothing is loaded from the "
                     "network.</small></p></section>")
    return "".join(parts)


def write_drift_page(source: DriftReport | str | Path, out_path: str | Path, *, top: int = 8) -> Path:
    """Write a self-contained offline HTML page of one drift report (:func:`drift_section` alone).

    Parameters
    ----------
    source : DriftReport, or a folder / ``drift.json`` written by ``multiattn drift --out DIR``
    out_path : str or Path
        The page (parent folders are created); ``multiattn drift --html`` writes ``DIR/drift.html``.
    top : int
        Drifted heads listed with their verdicts.

    Returns
    -------
    Path
        ``out_path``, whose size the CLI prints (pictures embedded: one file, offline).

    Examples
    --------
    >>> write_drift_page(report, "drift.html")  # doctest: +SKIP
    PosixPath('drift.html')
    """
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>multiattn drift report</title>"
            f"<style>{_STYLE}</style></head><body><h1>multiattn drift report</h1>"
            + drift_section(source, top=top) + "</body></html>")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    return out_path
