"""``multiattn html GRID.npz --out view.html``: an interactive, self-contained HTML view.

The view follows the grid's axes (text head/model view, image patches, graph nodes, audio
cross-attention, video); see :mod:`multiattn.renderers.html`.  Reads a grid or a GridSet
(``--grid NAME`` picks one; default ``cross`` if present, else the first).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from multiattn.errors import MultiattnValueError

from . import _common

__all__ = ["register", "run"]

_WORDS_VERSION = 1  # renderers/_write_audio.py writes version 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("html", help="write an interactive offline HTML view of a saved grid (.npz)")
    p.add_argument("path", metavar="GRID.npz", help="a grid or GridSet file (--save, AttentionGrid.save)")
    p.add_argument("--grid", dest="name", default=None, help="grid of a GridSet (default: cross, else first)")
    p.add_argument("--out", required=True, help="output .html file")
    p.add_argument("--title", default=None, help="title shown in the view")
    p.add_argument("--image", default=None, help="image the patches cover (image grids only)")
    p.add_argument("--audio", default=None, help="recording the frames cover (audio grids only)")
    p.add_argument("--words", default=None, metavar="words.json",
                   help="word timings of the recording (multiattn audio's words.json): hovering a word "
                        "shows the rows of the tokens that spell it (audio grids only)")
    p.add_argument("--video", default=None, help="clip the model saw (video grids), sampled to its frames")
    p.add_argument("--top-k", type=int, default=None, help="keep only the k largest weights per row")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from multiattn.axes import VideoAxis
    from multiattn.media import load_audio, read_video, to_rgb
    from multiattn.renderers.html import save

    grid = _common.read_grid(args.path, args.name)
    options = {"title": args.title} if args.top_k is None else {"title": args.title, "top_k": args.top_k}
    if args.image is not None:
        options["image"] = to_rgb(_common.existing(args.image, "image"))
    if args.audio is not None:
        options["audio"] = load_audio(_common.existing(args.audio, "audio file"))
    if args.words is not None:
        options["words"] = _read_words(_common.existing(args.words, "words file"))
    if args.video is not None:
        if not isinstance(grid.query, VideoAxis):
            raise MultiattnValueError(f"--video needs a grid over a VideoAxis, this one is over "
                             f"{type(grid.query).__name__}")
        clip = read_video(_common.existing(args.video, "video file"), num_frames=grid.query.frames)
        options["frames"] = clip.frames
    print(save(grid, args.out, **options))
    return 0


def _read_words(path: Path) -> list:
    """The word list of a ``words.json``: ``{"format": "multiattn.words", "words": [...]}`` or a list."""
    import json

    hint = "pass the words.json that multiattn audio writes"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MultiattnValueError(f"--words {path} is not JSON ({exc.__class__.__name__}): {hint}") from None
    if isinstance(document, dict) and document.get("format") == "multiattn.words":
        if not isinstance(document.get("version"), int) or document["version"] > _WORDS_VERSION:
            raise MultiattnValueError(f"--words {path} is words format version {document.get('version')!r}; "
                                      f"this multiattn reads up to {_WORDS_VERSION}: upgrade multiattn")
        document = document.get("words")
    if not isinstance(document, list):
        raise MultiattnValueError(f"--words {path} holds no word list: {hint}")
    return document
