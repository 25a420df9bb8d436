"""A corpus of bad or unusual inputs over the API and the CLI, each classified (issue 18).

Every case is a small function of a scratch folder that either must raise one of the package's
errors (``expect="error"``: a :class:`multiattn.MultiattnError` whose message is one line and names
the problem) or must give the right result (``expect="ok"``: ``check`` says whether it is right).
CLI cases run ``multiattn.cli.main`` in-process: an error case must exit with status 2 and print one
``multiattn CMD: error:`` line; no case may print a traceback.

Each case is classified as

- ``clear``: an error was expected and the package raised a one-line error of its own family;
- ``handled``: a result was expected and it is right;
- ``unclear``: a traceback, a library's exception, a multi-line message or exit status 3;
- ``wrong``: no error where one was due, or a result that is wrong.

Run ``python -m tests._bad_input_corpus`` for the counts by category as one JSON line;
``tests/test_bad_input_corpus.py`` asserts that every case is ``clear`` or ``handled``.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import signal
import sys
import warnings
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

import multiattn  # noqa: E402
import multiattn.adapters.graph  # noqa: E402, F401 - the modules the cases reach as attributes
import multiattn.adapters.whisper  # noqa: E402, F401
import multiattn.analysis  # noqa: E402, F401
import multiattn.media  # noqa: E402, F401
import multiattn.renderers.frames  # noqa: E402, F401
import multiattn.renderers.heatmap  # noqa: E402, F401
import multiattn.renderers.html  # noqa: E402, F401
import multiattn.renderers.image  # noqa: E402, F401
import multiattn.renderers.network  # noqa: E402, F401
from multiattn import AttentionGrid, AttentionMap, NodeAxis, PatchAxis, TimeAxis, TokenAxis  # noqa: E402
from multiattn.errors import MultiattnError  # noqa: E402

#: Text that must stay text wherever it is drawn or embedded.
INJECTIONS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</script><script>alert(2)</script>",
    "$\\frac{1}{0}$",
    "$\\undefinedmacro$",
    "{{7*7}} ${7*7} %s %n",
    "\u202eevil\u202c",
    "a\x00b",
]


@dataclass(frozen=True)
class Case:
    """One bad or unusual input: what to run, and what must come out."""

    category: str
    name: str
    run: Callable[[Path], Any]
    expect: str = "error"  # "error" or "ok"
    check: Callable[[Any], bool] | None = None  # for "ok": is the result right?
    match: str | None = None  # for "error": text the message must contain


@dataclass(frozen=True)
class CliResult:
    status: int
    stderr: str
    out: Path


# ---------------------------------------------------------------------------------------------
# fixtures built once


def _grid(n_layers: int = 2, n_heads: int = 2, n_tok: int = 4) -> AttentionGrid:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(n_layers, n_heads, n_tok, n_tok))
    values = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = ["[CLS]", *[f"w{i}" for i in range(n_tok - 2)], "[SEP]"]
    return AttentionGrid(values.astype(np.float32), TokenAxis(labels), meta={"model": "corpus"})


def _patch_grid() -> AttentionGrid:
    axis = PatchAxis(2, 2, 16, (32, 32), prefix=("CLS",))
    values = np.full((1, 1, 5, 5), 0.2, np.float32)
    return AttentionGrid(values, axis)


@cache
def _text_model() -> tuple[Any, Any]:
    return multiattn.load_model("minilm")


@cache
def _vit_model() -> tuple[Any, Any]:
    return multiattn.load_model("shapes-vit")


@cache
def _graph_model() -> tuple[Any, Any]:
    return multiattn.load_model("karate-gat")


def _sample(*parts: str) -> Path:
    return multiattn.media_samples.path(*parts)


def _saved_grid(tmp: Path) -> Path:
    return _grid().save(tmp / "good.npz")


def _rewrite_header(tmp: Path, change: Callable[[Any], Any]) -> Path:
    path = _saved_grid(tmp)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"]))
    changed = change(header)
    arrays["header"] = np.array(changed if isinstance(changed, str) else json.dumps(changed))
    np.savez(tmp / "bad.npz", **arrays)
    return tmp / "bad.npz"


def _write(tmp: Path, name: str, data: bytes | str) -> Path:
    path = tmp / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _wav(tmp: Path, wave: np.ndarray, sr: int = 16000, name: str = "a.wav") -> Path:
    import soundfile

    soundfile.write(tmp / name, wave, sr)
    return tmp / name


def _image(tmp: Path, array: np.ndarray, name: str = "img.png", mode: str | None = None) -> Path:
    from PIL import Image

    Image.fromarray(array, mode=mode).save(tmp / name) if mode else Image.fromarray(array).save(tmp / name)
    return tmp / name


def cli(tmp: Path, *argv: str, out: str = "out") -> CliResult:
    """Run the CLI in-process; ``{out}`` in an argument is replaced by a scratch output path."""
    from multiattn.cli import main

    target = tmp / out
    args = [a.replace("{out}", str(target)) for a in argv]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                status = main(args)
            except SystemExit as exit_:  # argparse usage errors
                status = int(exit_.code or 0)
    return CliResult(status, stderr.getvalue(), target)


def _svg_is_plain(svg_or_html: str) -> bool:
    return all(payload not in svg_or_html for payload in INJECTIONS[:3])


def _figure_text(fig: Any) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def _draws(fig_or_ax: Any) -> bool:
    """The figure renders to PNG (mathtext would fail on a user's ``$``)."""
    fig = (
        fig_or_ax.figure if hasattr(fig_or_ax, "figure") and not hasattr(fig_or_ax, "savefig") else fig_or_ax
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    matplotlib.pyplot.close(fig)
    return buf.tell() > 0


# ---------------------------------------------------------------------------------------------
# the cases


def _grid_file_cases() -> list[Case]:
    c = "grid files"

    def zip_with(tmp: Path, members: dict[str, bytes]) -> Path:
        with zipfile.ZipFile(tmp / "z.npz", "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        return tmp / "z.npz"

    def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
        return buf.getvalue()

    def truncated(tmp: Path) -> Path:
        data = _saved_grid(tmp).read_bytes()
        return _write(tmp, "cut.npz", data[: len(data) // 2])

    def object_array(tmp: Path) -> Path:
        np.savez(tmp / "obj.npz", values=np.array([{"a": 1}], dtype=object), header=np.array("{}"))
        return tmp / "obj.npz"

    load = multiattn.load_grids
    return [
        Case(c, "missing file", lambda t: load(t / "nope.npz"), match="nope.npz"),
        Case(c, "empty file", lambda t: load(_write(t, "e.npz", b"")), match="e.npz"),
        Case(c, "truncated npz", lambda t: load(truncated(t)), match="cut.npz"),
        Case(
            c, "plain .npy", lambda t: (np.save(t / "a.npy", np.ones(3)), load(t / "a.npy"))[1], match="a.npy"
        ),
        Case(c, "text file", lambda t: load(_write(t, "g.npz", "hello")), match="g.npz"),
        Case(c, "a folder", lambda t: load(t), match="case"),
        Case(
            c,
            "npz without header",
            lambda t: (np.savez(t / "n.npz", values=np.ones((1, 1, 2, 2))), load(t / "n.npz"))[1],
            match="n.npz",
        ),
        Case(c, "object array is not unpickled", lambda t: load(object_array(t)), match="obj.npz"),
        Case(
            c,
            "header newer version",
            lambda t: load(_rewrite_header(t, lambda h: {**h, "version": 99})),
            match="99",
        ),
        Case(c, "header is a list", lambda t: load(_rewrite_header(t, lambda h: [h])), match="bad.npz"),
        Case(c, "header not JSON", lambda t: load(_rewrite_header(t, lambda h: "{oops")), match="bad.npz"),
        Case(c, "header number", lambda t: load(_rewrite_header(t, lambda h: "3")), match="bad.npz"),
        Case(
            c,
            "layers wrong type",
            lambda t: load(_rewrite_header(t, lambda h: {**h, "layers": 3})),
            match="layers",
        ),
        Case(
            c,
            "kind missing",
            lambda t: load(_rewrite_header(t, lambda h: {k: v for k, v in h.items() if k != "kind"})),
            match="kind",
        ),
        Case(
            c,
            "unknown axis type",
            lambda t: load(_rewrite_header(t, lambda h: {**h, "query": {**h["query"], "type": "banana"}})),
            match="axis",
        ),
        Case(
            c,
            "axis labels wrong count",
            lambda t: load(_rewrite_header(t, lambda h: {**h, "query": {**h["query"], "labels": ["a"]}})),
            match="bad.npz",
        ),
        Case(
            c,
            "duplicate layers",
            lambda t: load(_rewrite_header(t, lambda h: {**h, "layers": ["x", "x"]})),
            match="unique",
        ),
        Case(
            c,
            "declared huge shape",
            lambda t: load(
                zip_with(t, {"values.npy": npy_header((64, 64, 8192, 8192)), "header.npy": npy_header(())})
            ),
            match="z.npz",
        ),
        Case(
            c,
            "values of strings",
            lambda t: (
                np.savez(t / "s.npz", values=np.array(["a", "b"]), header=np.array(json.dumps({}))),
                load(t / "s.npz"),
            )[1],
            match="s.npz",
        ),
        Case(
            c,
            "round trip keeps values",
            lambda t: load(_saved_grid(t)),
            "ok",
            lambda g: np.allclose(g.values, _grid().values) and g.query.labels == _grid().query.labels,
        ),
        Case(
            c,
            "gridset round trip",
            lambda t: load(multiattn.GridSet({"a": _grid(), "b": _grid(1, 1, 3)}).save(t / "s.npz")),
            "ok",
            lambda s: set(s) == {"a", "b"} and s["b"].values.shape == (1, 1, 3, 3),
        ),
        Case(
            c,
            "meta not JSON-serialisable",
            lambda t: AttentionGrid(_grid().values, _grid().query, meta={"f": object()}).save(t / "m.npz"),
            match="meta",
        ),
        Case(
            c,
            "save into a missing folder",
            lambda t: _grid().save(t / "no" / "such" / "g.npz"),
            "ok",
            lambda p: Path(p).exists(),
        ),
        Case(
            c,
            "save with wrong suffix",
            lambda t: _grid().save(t / "g.txt"),
            "ok",
            lambda p: multiattn.load_grids(p).values.shape == (2, 2, 4, 4),
        ),
        Case(c, "cli analyze missing file", lambda t: cli(t, "analyze", str(t / "x.npz"), "--out", "{out}")),
        Case(
            c,
            "cli analyze text file",
            lambda t: cli(t, "analyze", str(_write(t, "x.npz", "hi")), "--out", "{out}"),
        ),
        Case(
            c,
            "cli html newer version",
            lambda t: cli(
                t, "html", str(_rewrite_header(t, lambda h: {**h, "version": 42})), "--out", "{out}.html"
            ),
        ),
        Case(
            c,
            "cli html unknown --grid",
            lambda t: cli(
                t,
                "html",
                str(multiattn.GridSet({"a": _grid()}).save(t / "s.npz")),
                "--grid",
                "zzz",
                "--out",
                "{out}.html",
            ),
            match="zzz",
        ),
        Case(
            c,
            "cli analyze a GridSet without --grid",
            lambda t: cli(
                t,
                "analyze",
                str(multiattn.GridSet({"a": _grid(), "b": _grid()}).save(t / "s.npz")),
                "--out",
                "{out}",
            ),
            "ok",
            lambda r: r.status == 0 or r.status == 2,
        ),
    ]


def _grid_api_cases() -> list[Case]:
    c = "grid API"
    g = _grid()
    return [
        Case(c, "layer out of range", lambda t: g.select(layer=9), match="layer"),
        Case(c, "negative layer beyond", lambda t: g.select(layer=-9), match="layer"),
        Case(c, "unknown layer label", lambda t: g.select(layer="nope"), match="nope"),
        Case(c, "head out of range", lambda t: g.select(head=5), match="head"),
        Case(c, "head as float", lambda t: g.select(head=1.5), match="head"),
        Case(c, "row out of range", lambda t: g.row(99), match="99"),
        Case(c, "row by unknown token", lambda t: g.row("zebra"), match="zebra"),
        Case(c, "reduce unknown how", lambda t: g.reduce("median"), match="median"),
        Case(c, "reduce unknown dim", lambda t: g.reduce("mean", over="colour"), match="colour"),
        Case(
            c,
            "values 3-D",
            lambda t: AttentionGrid(np.ones((2, 4, 4)), TokenAxis(list("abcd"))),
            match="(2, 4, 4)",
        ),
        Case(
            c,
            "values 5-D",
            lambda t: AttentionGrid(np.ones((1, 1, 1, 4, 4)), TokenAxis(list("abcd"))),
            match="(1, 1, 1, 4, 4)",
        ),
        Case(
            c,
            "axis shorter than values",
            lambda t: AttentionGrid(np.full((1, 1, 4, 4), 0.25), TokenAxis(list("abc"))),
            match="3",
        ),
        Case(
            c,
            "NaN values",
            lambda t: AttentionGrid(np.full((1, 1, 2, 2), np.nan), TokenAxis(["a", "b"])),
            match="NaN",
        ),
        Case(
            c,
            "infinite values",
            lambda t: AttentionGrid(np.full((1, 1, 2, 2), np.inf), TokenAxis(["a", "b"])),
            match="finite",
        ),
        Case(
            c,
            "negative values",
            lambda t: AttentionGrid(np.full((1, 1, 2, 2), -0.5), TokenAxis(["a", "b"])),
            match="negative",
        ),
        Case(c, "string values", lambda t: AttentionGrid(np.array([[[["a"]]]]), TokenAxis(["a"]))),
        Case(
            c,
            "list values are accepted",
            lambda t: AttentionGrid([[[[0.5, 0.5], [1.0, 0.0]]]], TokenAxis(["a", "b"])),
            "ok",
            lambda g2: g2.values.shape == (1, 1, 2, 2),
        ),
        Case(
            c,
            "rows not summing warns, normalize fixes",
            lambda t: AttentionGrid(np.full((1, 1, 2, 2), 2.0), TokenAxis(["a", "b"]), normalize=True),
            "ok",
            lambda g2: np.allclose(g2.values.sum(-1), 1),
        ),
        Case(
            c,
            "duplicate layer labels",
            lambda t: AttentionGrid(np.full((2, 1, 2, 2), 0.5), TokenAxis(["a", "b"]), layers=["L", "L"]),
            match="L",
        ),
        Case(
            c,
            "layer label count",
            lambda t: AttentionGrid(np.full((2, 1, 2, 2), 0.5), TokenAxis(["a", "b"]), layers=["L"]),
            match="1",
        ),
        Case(
            c,
            "unknown kind",
            lambda t: AttentionGrid(np.full((1, 1, 2, 2), 0.5), TokenAxis(["a", "b"]), kind="sideways"),
            match="sideways",
        ),
        Case(
            c,
            "to_dense of a dense grid is itself",
            lambda t: g.to_dense(limit_bytes=10),
            "ok",
            lambda g2: g2 is g or np.array_equal(g2.values, g.values),
        ),
        Case(c, "GridSet missing name", lambda t: multiattn.GridSet({"a": g})["b"], match="b"),
        Case(c, "GridSet is read-only", lambda t: multiattn.GridSet({"a": g}).__setitem__("b", g)),
        Case(
            c,
            "map of wrong length on axis",
            lambda t: AttentionMap(np.ones(3), TokenAxis(list("abcd"))),
            match="3",
        ),
        Case(
            c,
            "patch axis map to image",
            lambda t: _patch_grid().row(0).values.shape,
            "ok",
            lambda s: s == (5,),
        ),
        Case(c, "select with empty list", lambda t: g.select(layer=[]), match="layer"),
        Case(
            c,
            "select with bool mask",
            lambda t: g.select(head=np.array([True, False])),
            "ok",
            lambda g2: g2.values.shape[1] == 1,
        ),
        Case(c, "metric on 1-D array", lambda t: multiattn.analysis.head_entropy(np.ones(4)), match="(4,)"),
        Case(
            c,
            "rollout on non-square",
            lambda t: multiattn.analysis.rollout(np.ones((2, 2, 3, 4)) / 4),
            match="3 x 4",
        ),
        Case(
            c,
            "rollout unknown fusion",
            lambda t: multiattn.analysis.rollout(g, head_fusion="median"),
            match="median",
        ),
        Case(
            c,
            "rollout residual out of range",
            lambda t: multiattn.analysis.rollout(g, residual=1.5),
            match="residual",
        ),
    ]


def _image_cases() -> list[Case]:
    c = "images"
    to_rgb = multiattn.media.to_rgb
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent

    def exif_rotated(tmp: Path) -> Path:
        from PIL import Image

        img = Image.new("RGB", (40, 20), (255, 0, 0))
        exif = img.getexif()
        exif[0x0112] = 6  # rotate 90° when shown
        img.save(tmp / "rot.jpg", exif=exif)
        return tmp / "rot.jpg"

    def sixteen_bit(tmp: Path) -> Path:
        from PIL import Image

        Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(tmp / "g16.png")
        return tmp / "g16.png"

    return [
        Case(c, "missing image", lambda t: to_rgb(t / "no.png"), match="no.png"),
        Case(c, "not an image", lambda t: to_rgb(_write(t, "x.png", "not an image")), match="x.png"),
        Case(c, "empty image file", lambda t: to_rgb(_write(t, "x.jpg", b"")), match="x.jpg"),
        Case(
            c,
            "truncated jpeg",
            lambda t: to_rgb(_write(t, "c.jpg", _sample("vit", "coffee.jpg").read_bytes()[:300])),
            match="c.jpg",
        ),
        Case(
            c,
            "RGBA transparency on white",
            lambda t: to_rgb(_image(t, rgba)),
            "ok",
            lambda a: a.shape == (8, 8, 3) and (a > 200).all(),
        ),
        Case(
            c,
            "16-bit grey keeps mid-grey",
            lambda t: to_rgb(sixteen_bit(t)),
            "ok",
            lambda a: abs(int(a.mean()) - 128) <= 2,
        ),
        Case(
            c,
            "EXIF rotation applied",
            lambda t: to_rgb(exif_rotated(t)),
            "ok",
            lambda a: a.shape[:2] == (40, 20),
        ),
        Case(
            c,
            "greyscale array",
            lambda t: to_rgb(np.full((5, 6), 7, np.uint8)),
            "ok",
            lambda a: a.shape == (5, 6, 3),
        ),
        Case(
            c,
            "float array 0..1",
            lambda t: to_rgb(np.full((4, 4, 3), 0.5)),
            "ok",
            lambda a: a.dtype == np.uint8 and abs(int(a.mean()) - 128) <= 1,
        ),
        Case(c, "float array with NaN", lambda t: to_rgb(np.full((4, 4, 3), np.nan)), match="NaN"),
        Case(c, "array 4-D", lambda t: to_rgb(np.zeros((1, 2, 4, 4, 3))), match="(1, 2, 4, 4, 3)"),
        Case(c, "zero-size image", lambda t: to_rgb(np.zeros((0, 4, 3), np.uint8)), match="(0, 4, 3)"),
        Case(c, "two-channel array", lambda t: to_rgb(np.zeros((4, 4, 2), np.uint8)), match="(4, 4, 2)"),
        Case(
            c,
            "image as a list of lists",
            lambda t: to_rgb([[0, 255], [255, 0]]),
            "ok",
            lambda a: a.shape == (2, 2, 3),
        ),
        Case(
            c,
            "bool mask as image",
            lambda t: to_rgb(np.eye(4, dtype=bool)),
            "ok",
            lambda a: a.shape == (4, 4, 3) and a.max() == 255 and a.min() == 0,
        ),
        Case(
            c,
            "overlay map of wrong size",
            lambda t: multiattn.renderers.image.overlay(np.zeros((8, 8, 3), np.uint8), np.ones((2, 2, 2))),
            match="(2, 2, 2)",
        ),
        Case(
            c,
            "overlay all-zero map",
            lambda t: multiattn.renderers.image.overlay(np.zeros((8, 8, 3), np.uint8), np.zeros((2, 2))),
            "ok",
            lambda a: a.shape == (8, 8, 3),
        ),
        Case(
            c,
            "overlay alpha out of range",
            lambda t: multiattn.renderers.image.overlay(
                np.zeros((8, 8, 3), np.uint8), np.ones((2, 2)), alpha=3
            ),
            match="alpha",
        ),
        Case(
            c,
            "overlay unknown cmap",
            lambda t: multiattn.renderers.image.overlay(
                np.zeros((8, 8, 3), np.uint8), np.ones((2, 2)), cmap="nocmap"
            ),
            match="nocmap",
        ),
        Case(
            c,
            "overlay unknown upsample",
            lambda t: multiattn.renderers.image.overlay(
                np.zeros((8, 8, 3), np.uint8), np.ones((2, 2)), upsample="cubicish"
            ),
            match="cubicish",
        ),
        Case(
            c,
            "vit capture on a tiny image",
            lambda t: multiattn.capture(
                _vit_model()[0], np.zeros((3, 3, 3), np.uint8), processor=_vit_model()[1]
            ),
            match="3x3",
        ),
        Case(
            c,
            "vit capture on a text string",
            lambda t: multiattn.capture(_vit_model()[0], "a cat", processor=_vit_model()[1]),
            match="a cat",
        ),
        Case(
            c,
            "cli image missing file",
            lambda t: cli(t, "image", str(t / "none.jpg"), "--out", "{out}.png"),
            match="none.jpg",
        ),
        Case(
            c,
            "cli image not an image",
            lambda t: cli(t, "image", str(_write(t, "x.jpg", "txt")), "--out", "{out}.png"),
            match="x.jpg",
        ),
        Case(
            c,
            "cli image bad target",
            lambda t: cli(
                t, "image", str(_sample("vit", "coffee.jpg")), "--target", "999", "--out", "{out}.png"
            ),
            match="999",
        ),
        Case(
            c,
            "cli image bad target name",
            lambda t: cli(
                t, "image", str(_sample("vit", "coffee.jpg")), "--target", "unicorn", "--out", "{out}.png"
            ),
            match="unicorn",
        ),
        Case(
            c,
            "cli html --image RGBA",
            lambda t: cli(
                t,
                "html",
                str(_patch_grid().save(t / "p.npz")),
                "--image",
                str(_image(t, rgba)),
                "--out",
                "{out}.html",
            ),
            "ok",
            lambda r: r.status == 0 and r.out.with_suffix(".html").exists(),
        ),
        Case(
            c,
            "cli html --image missing",
            lambda t: cli(
                t,
                "html",
                str(_patch_grid().save(t / "p.npz")),
                "--image",
                str(t / "none.png"),
                "--out",
                "{out}.html",
            ),
            match="none.png",
        ),
    ]


def _audio_cases() -> list[Case]:
    c = "audio"
    load = multiattn.media.load_audio
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)).astype(np.float32)

    def whisper() -> tuple[Any, Any]:
        return multiattn.load_model("whisper-tiny.en")

    return [
        Case(c, "missing audio", lambda t: load(t / "no.wav"), match="no.wav"),
        Case(c, "not audio", lambda t: load(_write(t, "x.wav", "hello")), match="x.wav"),
        Case(c, "empty wav", lambda t: load(_write(t, "e.wav", b"")), match="e.wav"),
        Case(
            c,
            "zero-length wav",
            lambda t: multiattn.adapters.whisper.prepare_audio(
                load(_wav(t, np.zeros(0, np.float32)))[0], 16000
            ),
            match="empty",
        ),
        Case(
            c,
            "8 kHz is resampled",
            lambda t: multiattn.adapters.whisper.prepare_audio(*load(_wav(t, tone[::2], 8000))),
            "ok",
            lambda m: abs(len(m[0]) - 16000) <= 2,
        ),
        Case(
            c,
            "stereo 44.1 kHz",
            lambda t: multiattn.adapters.whisper.prepare_audio(*load(_sample("speech", "stereo44k.wav"))),
            "ok",
            lambda m: m[0].ndim == 1 and len(m[0]) > 0,
        ),
        Case(
            c,
            "phase-inverted stereo",
            lambda t: multiattn.adapters.whisper.prepare_audio(np.stack([tone, -tone], 1), 16000),
            "ok",
            lambda m: np.allclose(np.abs(m[0]).max(), 0.3, atol=1e-3),
        ),
        Case(
            c,
            "silence",
            lambda t: multiattn.adapters.whisper.prepare_audio(np.zeros(16000), 16000),
            match="silent",
        ),
        Case(
            c,
            "NaN samples",
            lambda t: multiattn.adapters.whisper.prepare_audio(np.full(1600, np.nan), 16000),
            match="NaN",
        ),
        Case(
            c,
            "clipping int16 scaled",
            lambda t: multiattn.adapters.whisper.prepare_audio((tone * 32767 / 0.3).astype(np.int16), 16000),
            "ok",
            lambda m: np.abs(m[0]).max() <= 1.0001,
        ),
        Case(c, "sample rate zero", lambda t: multiattn.adapters.whisper.prepare_audio(tone, 0), match="0"),
        Case(
            c,
            "audio 3-D",
            lambda t: multiattn.adapters.whisper.prepare_audio(np.zeros((2, 2, 2)), 16000),
            match="(2, 2, 2)",
        ),
        Case(
            c,
            "capture on a string that is no file",
            lambda t: multiattn.capture(whisper()[0], str(t / "speech.wav"), processor=whisper()[1]),
            match="speech.wav",
        ),
        Case(
            c,
            "cli audio missing",
            lambda t: cli(t, "audio", str(t / "none.wav"), "--out", "{out}"),
            match="none.wav",
        ),
        Case(
            c,
            "cli audio not audio",
            lambda t: cli(t, "audio", str(_write(t, "x.wav", "hi")), "--out", "{out}"),
            match="x.wav",
        ),
        Case(
            c,
            "cli audio silent",
            lambda t: cli(t, "audio", str(_wav(t, np.zeros(8000, np.float32))), "--out", "{out}"),
            match="silent",
        ),
        Case(
            c,
            "cli audio empty transcript",
            lambda t: cli(t, "audio", str(_sample("speech", "s1.wav")), "--text", "   ", "--out", "{out}"),
            match="text",
        ),
    ]


def _video_cases() -> list[Case]:
    c = "video"
    read = multiattn.media.read_video
    frames = np.zeros((4, 16, 16, 3), np.uint8)
    return [
        Case(c, "missing video", lambda t: read(t / "no.mp4"), match="no.mp4"),
        Case(c, "not a video", lambda t: read(_write(t, "x.mp4", "nope")), match="x.mp4"),
        Case(c, "empty video file", lambda t: read(_write(t, "e.mp4", b"")), match="e.mp4"),
        Case(
            c,
            "num_frames zero",
            lambda t: read(_sample("video", "moving_shapes.mp4"), num_frames=0),
            match="num_frames",
        ),
        Case(
            c,
            "negative num_frames",
            lambda t: read(_sample("video", "moving_shapes.mp4"), num_frames=-2),
            match="num_frames",
        ),
        Case(
            c,
            "frames of different sizes",
            lambda t: multiattn.media.as_frames(
                [np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)]
            ),
            match="(9, 8, 3)",
        ),
        Case(c, "empty frame list", lambda t: multiattn.media.as_frames([]), match="0 frames"),
        Case(
            c,
            "frames 5-D",
            lambda t: multiattn.media.as_frames(np.zeros((1, 2, 8, 8, 3))),
            match="(1, 2, 8, 8, 3)",
        ),
        Case(
            c,
            "overlay maps of wrong count",
            lambda t: multiattn.renderers.frames.overlay_frames(frames, np.ones((3, 2, 2))),
            match="3",
        ),
        Case(
            c,
            "write video with bad suffix",
            lambda t: multiattn.renderers.frames.write_overlay_video(
                frames, np.ones((4, 2, 2)), t / "v.avi", gif=False
            ),
            match="v.avi",
        ),
        Case(
            c,
            "cli video missing",
            lambda t: cli(t, "video", str(t / "none.mp4"), "--out", "{out}.mp4"),
            match="none.mp4",
        ),
        Case(
            c,
            "cli video not a video",
            lambda t: cli(t, "video", str(_write(t, "x.mp4", "x")), "--out", "{out}.mp4"),
            match="x.mp4",
        ),
        Case(
            c,
            "cli video bad alpha",
            lambda t: cli(
                t, "video", str(_sample("video", "moving_shapes.mp4")), "--alpha", "7", "--out", "{out}.mp4"
            ),
            match="alpha",
        ),
    ]


def _graph_cases() -> list[Case]:
    c = "graphs"
    graph = multiattn.adapters.graph
    import networkx as nx

    def edges(tmp: Path, text: str, name: str = "e.txt") -> Path:
        return _write(tmp, name, text)

    def digraph(weight: float) -> Any:
        g = nx.DiGraph()
        g.add_edge(0, 1, attention=weight)
        return g

    return [
        Case(c, "missing edge list", lambda t: graph.read_graph(t / "no.txt"), match="no.txt"),
        Case(c, "empty edge list", lambda t: graph.read_graph(edges(t, "")), match="e.txt"),
        Case(c, "only comments", lambda t: graph.read_graph(edges(t, "# nothing\n# here\n")), match="e.txt"),
        Case(c, "one column", lambda t: graph.read_graph(edges(t, "1\n2\n")), match="e.txt"),
        Case(
            c,
            "csv header",
            lambda t: graph.read_graph(edges(t, "source,target\na,b\nb,c\n", "e.csv")),
            "ok",
            lambda g: sorted(g.nodes) == ["a", "b", "c"],
        ),
        Case(
            c,
            "weights not numbers",
            lambda t: graph.from_networkx(graph.read_graph(edges(t, "a b heavy\nb c light\n"))),
            match="heavy",
        ),
        Case(c, "negative weight", lambda t: graph.from_networkx(digraph(-0.3)), match="-0.3"),
        Case(c, "NaN weight", lambda t: graph.from_networkx(digraph(float("nan"))), match="nan"),
        Case(c, "infinite weight", lambda t: graph.from_networkx(digraph(math.inf)), match="inf"),
        Case(c, "empty networkx graph", lambda t: graph.from_networkx(nx.DiGraph()), match="no nodes"),
        Case(
            c,
            "self loops kept",
            lambda t: graph.from_networkx(
                nx.DiGraph([(0, 0, {"attention": 1.0}), (0, 1, {"attention": 1.0})])
            ),
            "ok",
            lambda g: g.edge_index.shape[1] == 2,
        ),
        Case(
            c,
            "edge_index wrong shape",
            lambda t: graph.from_edges(np.zeros((3, 4), int), np.ones(4)),
            match="(3, 4)",
        ),
        Case(
            c,
            "alpha count mismatch",
            lambda t: graph.from_edges(np.array([[0, 1], [1, 0]]), np.ones(3)),
            match="3",
        ),
        Case(
            c,
            "negative node index",
            lambda t: graph.from_edges(np.array([[0, -1], [1, 0]]), np.ones(2)),
            match="-1",
        ),
        Case(
            c,
            "node index beyond num_nodes",
            lambda t: graph.from_edges(np.array([[0, 5], [1, 0]]), np.ones(2), num_nodes=3),
            match="5",
        ),
        Case(
            c,
            "duplicate edges refused",
            lambda t: graph.from_edges(np.array([[0, 0], [1, 1]]), np.ones(2)),
            match="multi_edges",
        ),
        Case(
            c,
            "duplicate edges summed",
            lambda t: graph.from_edges(np.array([[0, 0], [1, 1]]), np.full(2, 0.5), multi_edges="sum"),
            "ok",
            lambda g: g.edge_index.shape[1] == 1 and np.isclose(g.values.sum(), 1.0),
        ),
        Case(c, "dense not square", lambda t: graph.from_dense(np.ones((2, 3))), match="(2, 3)"),
        Case(
            c,
            "draw unknown layout",
            lambda t: multiattn.renderers.network.draw(
                graph.from_dense(np.full((3, 3), 1 / 3)), layout="hyperbolic"
            ),
            match="hyperbolic",
        ),
        Case(
            c,
            "draw ego unknown node",
            lambda t: multiattn.renderers.network.draw_ego(graph.from_dense(np.full((3, 3), 1 / 3)), node=7),
            match="7",
        ),
        Case(
            c,
            "draw with positions of wrong shape",
            lambda t: multiattn.renderers.network.draw(
                graph.from_dense(np.full((3, 3), 1 / 3)), pos=np.zeros((2, 2))
            ),
            match="(2, 2)",
        ),
        Case(
            c,
            "capture on a non-graph input",
            lambda t: graph.capture(_graph_model()[0], "edges.txt"),
            match="Data",
        ),
        Case(
            c,
            "cli graph missing",
            lambda t: cli(t, "graph", str(t / "none.txt"), "--out", "{out}.png"),
            match="none.txt",
        ),
        Case(
            c,
            "cli graph binary file",
            lambda t: cli(t, "graph", str(_write(t, "b.txt", b"\xff\xfe\x00\x81")), "--out", "{out}.png"),
            match="b.txt",
        ),
        Case(
            c,
            "cli graph unknown weight",
            lambda t: cli(
                t, "graph", str(edges(t, "0 1\n1 2\n2 0\n")), "--weight", "mass", "--out", "{out}.png"
            ),
            match="mass",
        ),
        Case(
            c,
            "cli graph head out of range",
            lambda t: cli(t, "graph", str(edges(t, "0 1\n1 2\n2 0\n")), "--head", "40", "--out", "{out}.png"),
            match="40",
        ),
        Case(
            c,
            "cli graph csv header",
            lambda t: cli(
                t, "graph", str(edges(t, "source,target\n0,1\n1,2\n2,0\n", "e.csv")), "--out", "{out}.png"
            ),
            "ok",
            lambda r: r.status == 0 and r.out.with_suffix(".png").exists(),
        ),
    ]


def _text_cases() -> list[Case]:
    c = "text"

    def capture(text: Any, **kw: Any) -> Any:
        model, tok = _text_model()
        return multiattn.capture(model, text, processor=tok, **kw)

    return [
        Case(c, "empty string", lambda t: capture(""), match="empty"),
        Case(c, "whitespace only", lambda t: capture("   \n\t"), match="empty"),
        Case(c, "NUL character", lambda t: capture("\x00"), match="control"),
        Case(c, "None", lambda t: capture(None), match="text"),
        Case(c, "a number", lambda t: capture(42), match="int"),
        Case(c, "a list of strings", lambda t: capture(["a", "b"]), match="list"),
        Case(
            c,
            "emoji and CJK",
            lambda t: capture("日本 🙂 naïve"),
            "ok",
            lambda g: g.values.shape[-1] == len(g.query.labels),
        ),
        Case(
            c,
            "right-to-left override",
            lambda t: capture("abc \u202e def"),
            "ok",
            lambda g: g.values.ndim == 4,
        ),
        Case(
            c,
            "very long text is truncated with a warning",
            lambda t: capture("word " * 2000),
            "ok",
            lambda g: g.values.shape[-1] <= 512,
        ),
        Case(c, "max_length zero", lambda t: capture("hello", max_length=0), match="max_length"),
        Case(c, "pair of one string", lambda t: capture(("only one",)), match="pair"),
        Case(c, "cli text empty", lambda t: cli(t, "text", "", "--out", "{out}"), match="empty"),
        Case(
            c,
            "cli text layer out of range",
            lambda t: cli(t, "text", "hello", "--layer", "9", "--out", "{out}"),
            match="9",
        ),
        Case(
            c,
            "cli text head out of range",
            lambda t: cli(t, "text", "hello", "--head", "99", "--out", "{out}"),
            match="99",
        ),
        Case(
            c,
            "cli text unknown target",
            lambda t: cli(t, "text", "hello", "--target", "zebra", "--out", "{out}"),
            match="target",
        ),
        Case(
            c,
            "cli text unknown model",
            lambda t: cli(t, "text", "hello", "--model", "no-such-model", "--out", "{out}"),
            match="no-such-model",
        ),
        Case(
            c,
            "cli text wrong-modality model",
            lambda t: cli(t, "text", "hello", "--model", "shapes-vit", "--out", "{out}"),
            match="shapes-vit",
        ),
        Case(
            c,
            "cli text max-length negative",
            lambda t: cli(t, "text", "hello", "--max-length", "-3", "--out", "{out}"),
            match="max",
        ),
        Case(
            c,
            "cli corpus missing",
            lambda t: cli(t, "corpus", str(t / "none.txt"), "--out", "{out}.csv"),
            match="none.txt",
        ),
        Case(
            c,
            "cli corpus empty file",
            lambda t: cli(t, "corpus", str(_write(t, "c.txt", "\n\n")), "--out", "{out}.csv"),
            match="c.txt",
        ),
        Case(
            c,
            "cli corpus binary",
            lambda t: cli(t, "corpus", str(_write(t, "c.txt", b"\xff\xfe\x00\x81")), "--out", "{out}.csv"),
            match="c.txt",
        ),
        Case(
            c,
            "cli corpus unknown metric",
            lambda t: cli(
                t, "corpus", str(_write(t, "c.txt", "a b\nc d\n")), "--metrics", "speed", "--out", "{out}.csv"
            ),
            match="speed",
        ),
    ]


def _strips_with_dollar_words(tmp: Path) -> Any:
    from multiattn.renderers.audio import alignment_strips

    words = [
        {"word": "$\\alpha$", "start": 0.0, "end": 0.2, "tokens": [0]},
        {"word": "<b>x</b>", "start": 0.2, "end": 0.4, "tokens": [1]},
    ]
    cross = AttentionGrid(
        np.full((1, 1, 2, 25), 1 / 25, np.float32),
        TokenAxis(["$\\alpha$", "<b>x</b>"]),
        TimeAxis(25, 0.02),
        kind="cross",
        meta={"alignment_heads": [[0, 0]]},
    )
    return alignment_strips(cross, np.zeros(8000, np.float32) + 0.01, 16000, words=words, title="$\\beta$")


def _caption_with_dollar(tmp: Path) -> Any:
    from multiattn.renderers.crossmodal import similarity_grid

    return similarity_grid(np.array([[1.0, 0.5]]), [np.zeros((8, 8, 3), np.uint8)], ["$\\macro$", "{a}_b^c"])


def _markup_cases() -> list[Case]:
    c = "HTML/SVG/mathtext injection"
    to_html = multiattn.renderers.html.to_html
    cases = [
        Case(c, "transcript words with $ in audio strips", _strips_with_dollar_words, "ok", _draws),
        Case(c, "captions with $ in the similarity grid", _caption_with_dollar, "ok", _draws),
    ]
    for i, payload in enumerate(INJECTIONS):

        def grid_with(payload: str = payload) -> AttentionGrid:
            return AttentionGrid(
                np.full((1, 1, 2, 2), 0.5, np.float32), TokenAxis([payload, "b"]), meta={"model": payload}
            )

        cases.append(
            Case(
                c,
                f"html view token {i}",
                lambda t, g=grid_with: to_html(g(), title=INJECTIONS[0]),
                "ok",
                _svg_is_plain,
            )
        )
        cases.append(
            Case(
                c,
                f"heatmap labels {i}",
                lambda t, g=grid_with: multiattn.renderers.heatmap.heatmap(g()),
                "ok",
                _draws,
            )
        )
    cases += [
        Case(
            c,
            "overlay title with $",
            lambda t: multiattn.renderers.image.overlay_plot(
                np.zeros((8, 8, 3), np.uint8), np.ones((2, 2)), title="$\\undefinedmacro$"
            ),
            "ok",
            _draws,
        ),
        Case(
            c,
            "graph node labels",
            lambda t: multiattn.renderers.network.draw(
                multiattn.adapters.graph.from_networkx(
                    __import__("networkx").DiGraph(
                        [("$\\x$", "<b>", {"attention": 1.0}), ("<b>", "$\\x$", {"attention": 1.0})]
                    )
                ),
                labels=True,
            ),
            "ok",
            _draws,
        ),
        Case(c, "svg save escapes", lambda t: _svg_of(t), "ok", _svg_is_plain),
        Case(
            c,
            "cli html title",
            lambda t: cli(t, "html", str(_saved_grid(t)), "--title", INJECTIONS[0], "--out", "{out}.html"),
            "ok",
            lambda r: r.status == 0 and INJECTIONS[0] not in r.out.with_suffix(".html").read_text(),
        ),
    ]
    return cases


def _svg_of(tmp: Path) -> str:
    ax = multiattn.renderers.heatmap.heatmap(
        AttentionGrid(np.full((1, 1, 2, 2), 0.5, np.float32), TokenAxis([INJECTIONS[0], INJECTIONS[1]]))
    )
    ax.figure.savefig(tmp / "h.svg")
    matplotlib.pyplot.close(ax.figure)
    return (tmp / "h.svg").read_text()


def _cli_option_cases() -> list[Case]:
    c = "CLI options and outputs"
    edges = "0 1\n1 2\n2 0\n"
    return [
        Case(
            c, "no command", lambda t: cli(t), "ok", lambda r: r.status == 2 and "Traceback" not in r.stderr
        ),
        Case(c, "unknown command", lambda t: cli(t, "paint"), "ok", lambda r: r.status == 2),
        Case(
            c,
            "--out in a missing folder is created",
            lambda t: cli(t, "graph", str(_write(t, "e.txt", edges)), "--out", str(t / "a" / "b" / "g.png")),
            "ok",
            lambda r: r.status == 0,
        ),
        Case(
            c,
            "--out is a folder",
            lambda t: (
                t.joinpath("o").mkdir(),
                cli(t, "graph", str(_write(t, "e.txt", edges)), "--out", str(t / "o")),
            )[1],
            match="folder",
        ),
        Case(
            c,
            "--out parent is a file",
            lambda t: cli(
                t, "graph", str(_write(t, "e.txt", edges)), "--out", str(_write(t, "f", "x") / "g.png")
            ),
            match="f",
        ),
        Case(
            c,
            "--out unknown suffix",
            lambda t: cli(t, "graph", str(_write(t, "e.txt", edges)), "--out", "{out}.xyz"),
            match=".png",
        ),
        Case(
            c,
            "--out of a folder command is an existing file",
            lambda t: cli(t, "text", "hello", "--out", str(_write(t, "taken", "x"))),
            match="taken",
        ),
        Case(
            c,
            "--out unwritable",
            lambda t: cli(t, "graph", str(_write(t, "e.txt", edges)), "--out", "/proc/nope/g.png"),
            match="/proc",
        ),
        Case(
            c,
            "--save into unwritable",
            lambda t: cli(t, "text", "hello", "--out", "{out}", "--save", "/proc/nope/g.npz"),
            match="/proc",
        ),
        Case(
            c,
            "--save with wrong suffix",
            lambda t: cli(t, "text", "hello", "--out", "{out}", "--save", str(t / "g.png")),
            "ok",
            lambda r: r.status in (0, 2) and "Traceback" not in r.stderr,
        ),
        Case(
            c,
            "demo unknown section",
            lambda t: cli(t, "demo", "--only", "bogus", "--out", "{out}"),
            match="bogus",
        ),
        Case(
            c,
            "html unknown option value",
            lambda t: cli(t, "html", str(_saved_grid(t)), "--top-k", "-1", "--out", "{out}.html"),
            match="top",
        ),
        Case(
            c,
            "analyze writes metrics",
            lambda t: cli(t, "analyze", str(_saved_grid(t)), "--out", "{out}"),
            "ok",
            lambda r: r.status == 0 and any(r.out.iterdir()),
        ),
        Case(
            c,
            "report missing input",
            lambda t: cli(t, "report", "--input", "", "--out", "{out}.html"),
            match="empty",
        ),
        Case(
            c,
            "depth token out of range",
            lambda t: cli(t, "depth", "hello world", "--token", "50", "--steps", "2", "--out", "{out}"),
            match="50",
        ),
        Case(
            c,
            "depth steps zero",
            lambda t: cli(t, "depth", "hello world", "--steps", "0", "--out", "{out}"),
            match="steps",
        ),
        Case(
            c,
            "clip no captions",
            lambda t: cli(t, "clip", str(_sample("vit", "coffee.jpg")), "", "--out", "{out}.png"),
            match="caption",
        ),
        Case(
            c,
            "clip top-k zero",
            lambda t: cli(
                t, "clip", str(_sample("vit", "coffee.jpg")), "a cup", "--top-k", "0", "--out", "{out}.png"
            ),
            match="top",
        ),
        Case(
            c,
            "image unknown model folder",
            lambda t: cli(
                t, "image", str(_sample("vit", "coffee.jpg")), "--model", str(t), "--out", "{out}.png"
            ),
            match="case",
        ),
        Case(
            c,
            "image weights missing",
            lambda t: cli(
                t,
                "image",
                str(_sample("vit", "coffee.jpg")),
                "--model",
                "timm:vit_tiny_patch16_224",
                "--weights",
                str(t / "w.safetensors"),
                "--out",
                "{out}.png",
            ),
            match="w.safetensors",
        ),
        Case(
            c,
            "image weights are a pickle",
            lambda t: cli(
                t,
                "image",
                str(_sample("vit", "coffee.jpg")),
                "--model",
                "timm:vit_tiny_patch16_224",
                "--weights",
                str(_write(t, "w.pth", b"\x80\x04K\x01.")),
                "--out",
                "{out}.png",
            ),
            match="w.pth",
        ),
    ]


def _model_cases() -> list[Case]:
    c = "models"
    import torch

    return [
        Case(
            c, "load unknown name", lambda t: multiattn.load_model("bert-of-nowhere"), match="bert-of-nowhere"
        ),
        Case(c, "load empty folder", lambda t: multiattn.load_model(str(t)), match="case"),
        Case(
            c,
            "load folder with broken config",
            lambda t: (_write(t, "config.json", "{broken"), multiattn.load_model(str(t)))[1],
            match="config.json",
        ),
        Case(c, "load timm unknown", lambda t: multiattn.load_model("timm:no_such_net"), match="no_such_net"),
        Case(
            c,
            "modality of a plain module",
            lambda t: multiattn.modality(torch.nn.Linear(2, 2)),
            match="Linear",
        ),
        Case(
            c,
            "capture on a plain module",
            lambda t: multiattn.capture(torch.nn.Linear(2, 2), "x"),
            match="Linear",
        ),
        Case(
            c,
            "capture with a wrong processor",
            lambda t: multiattn.capture(_text_model()[0], "hello", processor=_vit_model()[1]),
            match="processor",
        ),
        Case(
            c,
            "explain unknown method",
            lambda t: multiattn.explain(
                _vit_model()[0], np.zeros((32, 32, 3), np.uint8), processor=_vit_model()[1], method="magic"
            ),
            match="magic",
        ),
        Case(
            c,
            "capture_stream unknown include",
            lambda t: multiattn.capture_stream(
                _text_model()[0], "hello", {}, processor=_text_model()[1], include="nowhere"
            ),
            match="nowhere",
        ),
        Case(c, "capture leaves the output unchanged", lambda t: _output_unchanged(), "ok", bool),
    ]


def _output_unchanged() -> bool:
    import torch

    model, tok = _text_model()
    batch = tok("the cat sat", return_tensors="pt")
    with torch.no_grad():
        before = model(**batch).last_hidden_state.clone()
    multiattn.capture(model, "the cat sat", processor=tok)
    with torch.no_grad():
        after = model(**batch).last_hidden_state
    return bool(torch.equal(before, after))


def _determinism_cases() -> list[Case]:
    c = "determinism and limits"

    def twice_same(tmp: Path) -> bool:
        from multiattn.renderers.heatmap import heatmap

        outs = []
        for i in range(2):
            ax = heatmap(_grid())
            ax.figure.savefig(tmp / f"h{i}.png", metadata={"Software": None})
            matplotlib.pyplot.close(ax.figure)
            outs.append((tmp / f"h{i}.png").read_bytes())
        return outs[0] == outs[1]

    def flow_cost(tmp: Path) -> Any:
        from multiattn.analysis import attention_flow

        big = np.full((12, 1, 440, 440), 1 / 440, np.float32)
        return attention_flow(big, progress=False)

    return [
        Case(c, "heatmap PNG is byte-identical twice", twice_same, "ok", bool),
        Case(
            c,
            "capture twice gives equal grids",
            lambda t: np.array_equal(
                multiattn.capture(_text_model()[0], "same input", processor=_text_model()[1]).values,
                multiattn.capture(_text_model()[0], "same input", processor=_text_model()[1]).values,
            ),
            "ok",
            bool,
        ),
        Case(c, "exact flow of 440 tokens is refused up front", flow_cost, match="rollout"),
        Case(
            c,
            "huge dense grid refused before allocation",
            lambda t: multiattn.adapters.graph.from_edges(
                np.array([[0, 199_999], [1, 0]]), np.ones(2)
            ).to_dense(),
            match="limit",
        ),
        Case(
            c,
            "a broadcast 1 TB grid is refused before any mask is allocated",
            lambda t: AttentionGrid(
                np.broadcast_to(np.float32(0.1), (64, 64, 8192, 8192)),
                TokenAxis([str(i) for i in range(8192)]),
            ),
            match="limit",
        ),
        Case(c, "row of a 200k-node sparse grid", _sparse_row, "ok", bool),
        Case(c, "row of a sparse grid equals the dense row", _sparse_row_matches_dense, "ok", bool),
    ]


def _sparse_row(tmp: Path) -> bool:
    n = 200_000
    ring = multiattn.adapters.graph.from_edges(np.stack([np.arange(n), (np.arange(n) + 1) % n]), np.ones(n))
    row = ring.row(5)
    return row.values.shape == (n,) and row.values[4] == 1.0 and row.values.sum() == 1.0


def _sparse_row_matches_dense(tmp: Path) -> bool:
    edges = np.array([[0, 1, 2, 2, 3, 0], [1, 0, 1, 3, 1, 2]])
    values = np.random.default_rng(0).random((2, 2, 6)).astype(np.float32)
    grid = AttentionGrid(values, NodeAxis(list(range(4))), edge_index=edges, check_rows=False)
    dense = grid.to_dense()
    return all(
        np.allclose(grid.row(q, layer=0, head=h).values, dense.row(q, layer=0, head=h).values)
        for q in range(4)
        for h in ("mean", 1)
    )


def all_cases() -> list[Case]:
    """Every case of the corpus, by category."""
    return (
        _grid_file_cases()
        + _grid_api_cases()
        + _image_cases()
        + _audio_cases()
        + _video_cases()
        + _graph_cases()
        + _text_cases()
        + _markup_cases()
        + _cli_option_cases()
        + _model_cases()
        + _determinism_cases()
    )


# ---------------------------------------------------------------------------------------------
# classification


def _ours(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("multiattn ")]


class _Unbounded(BaseException):
    """A case ran past :data:`CASE_BUDGET_S` (raised from the alarm; not an Exception on purpose)."""


#: A case still running after this many seconds is classified ``unbounded`` (a guard, not a timing test:
#: every case either fails fast or finishes in seconds; work of minutes must be refused up front).
CASE_BUDGET_S = int(os.environ.get("MULTIATTN_CORPUS_BUDGET_S", "300"))


def _alarm(signum: int, frame: Any) -> None:
    raise _Unbounded


def classify(case: Case, tmp: Path) -> tuple[str, str]:
    """``(outcome, detail)`` for one case run in the scratch folder ``tmp``."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_BUDGET_S)
    try:
        return _classify(case, tmp)
    except _Unbounded:
        return "unbounded", f"still running after {CASE_BUDGET_S} s"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _classify(case: Case, tmp: Path) -> tuple[str, str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = case.run(tmp)
    except MultiattnError as err:
        message = str(err)
        if case.expect == "ok":
            return "wrong", f"raised {type(err).__name__}: {message}"
        if "\n" in message or not message.strip():
            return "unclear", f"message not one line: {message!r}"
        if case.match and case.match not in message:
            return "unclear", f"message lacks {case.match!r}: {message}"
        if "allow_pickle" in message:
            return "unclear", "numpy's pickle advice reached the user"
        return "clear", message
    except Exception as err:  # noqa: BLE001 - anything else is the finding
        return "unclear", f"{type(err).__name__}: {str(err)[:200]}"
    if isinstance(result, CliResult):
        return _classify_cli(case, result)
    if case.expect == "error":
        return "wrong", f"no error; returned {type(result).__name__}"
    try:
        right = bool(case.check(result)) if case.check else True
    except Exception as err:  # noqa: BLE001
        return "wrong", f"check failed: {type(err).__name__}: {err}"
    return ("handled", "") if right else ("wrong", f"wrong result: {str(result)[:120]}")


def _classify_cli(case: Case, result: CliResult) -> tuple[str, str]:
    if "Traceback" in result.stderr:
        return "unclear", "traceback on stderr"
    if result.status == 3:
        return "unclear", result.stderr.strip()[:200]
    if case.expect == "ok":
        right = bool(case.check(result)) if case.check else result.status == 0
        return ("handled", "") if right else ("wrong", f"exit {result.status}: {result.stderr.strip()[:200]}")
    if result.status == 0:
        return "wrong", "exit 0 where an error was due"
    lines = _ours(result.stderr)
    if result.status != 2 or len(lines) != 1 or ": error: " not in lines[0]:
        return "unclear", f"exit {result.status}: {result.stderr.strip()[:200]}"
    if case.match and case.match not in lines[0]:
        return "unclear", f"message lacks {case.match!r}: {lines[0]}"
    return "clear", lines[0]


def run_all(root: Path) -> dict[str, Any]:
    """Run every case; counts by category and outcome, and the cases that are not clear/handled."""
    counts: dict[str, Counter] = defaultdict(Counter)
    failures = []
    cases = all_cases()
    for i, case in enumerate(cases):
        print(f"[{i + 1}/{len(cases)}] {case.category}: {case.name}", file=sys.stderr, flush=True)
        tmp = root / f"case{i:03d}"
        tmp.mkdir(parents=True)
        outcome, detail = classify(case, tmp)
        counts[case.category][outcome] += 1
        if outcome not in ("clear", "handled"):
            failures.append(
                {"category": case.category, "case": case.name, "outcome": outcome, "detail": detail}
            )
    total = Counter()
    for by_outcome in counts.values():
        total.update(by_outcome)
    return {
        "cases": sum(total.values()),
        "total": dict(total),
        "by_category": {k: dict(v) for k, v in counts.items()},
        "not_ok": failures,
    }


if __name__ == "__main__":  # pragma: no cover
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        report = run_all(Path(folder))
    print(json.dumps(report))
    sys.exit(0)
