"""The demo gallery (``multiattn demo``): one module per section, each ``render(out_dir)``.

Private: the gallery shows the public API at work on the embedded models; nothing in the
library depends on it.  Sections that need optional tools (Chromium for the HTML
screenshots) render what they can and return :class:`GalleryItem` entries with
``skipped`` set for the rest.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape  # not `import html`: the section module html would shadow it
from pathlib import Path

from multiattn.errors import MultiattnValueError

__all__ = ["SECTIONS", "GalleryItem", "render", "write_index"]

#: Section names in gallery order (``multiattn demo --only NAME ...``).
SECTIONS = ("text", "image", "clip", "audio", "graph", "video", "depth", "dynamics", "analyze", "html",
            "report", "monitor")


@dataclass(frozen=True)
class GalleryItem:
    """One picture (or page) of the demo gallery; ``skipped`` says why it could not be made."""

    section: str
    title: str
    path: Path | None
    caption: str = ""
    skipped: str = ""


def _check(only: Sequence[str] | None) -> list[str]:
    unknown = [name for name in only or () if name not in SECTIONS]
    if unknown:
        raise MultiattnValueError(f"unknown demo section(s) {', '.join(map(repr, unknown))}; "
                         f"choose from {', '.join(SECTIONS)}")
    return [name for name in SECTIONS if not only or name in only]


def render(out: str | Path, only: Sequence[str] | None = None) -> tuple[Path, list[GalleryItem]]:
    """Render the sections ``only`` (default all) into ``out``; write the index.

    Returns the index path and every item (skipped ones included).

    Raises
    ------
    ValueError
        An unknown section name (the message lists :data:`SECTIONS`).
    """
    names = _check(only)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items: list[GalleryItem] = []
    for name in names:
        print(f"[demo] {name} ...", flush=True)
        items += importlib.import_module(f"{__name__}.{name}").render(out / name)
    return write_index(items, out), items


def _entry(item: GalleryItem, out: Path) -> tuple[list[str], str]:
    """Markdown lines and HTML of one item."""
    title, caption = escape(item.title), escape(item.caption)
    if item.skipped:
        return ([f"### {item.title}", "", f"*skipped: {item.skipped}*", ""],
                f"<h3>{title}</h3><p><em>skipped: {escape(item.skipped)}</em></p>")
    rel = Path(os.path.relpath(item.path, out)).as_posix()
    md = [f"### {item.title}", "", item.caption, ""]
    page = f"<h3>{title}</h3><p>{caption}</p>"
    if rel.endswith((".png", ".gif", ".jpg")):
        return md + [f"![{item.title}]({rel})", ""], page + f"<img src='{escape(rel)}' alt='{title}'>"
    return md + [f"[{rel}]({rel})", ""], page + f"<p><a href='{escape(rel)}'>{escape(rel)}</a></p>"


def write_index(items: Sequence[GalleryItem], out: Path) -> Path:
    """Write ``index.md`` and ``index.html`` listing every gallery item by section."""
    sections: dict[str, list[GalleryItem]] = {}
    for item in items:
        sections.setdefault(item.section, []).append(item)
    md = ["# multiattn gallery", ""]
    page = ["<!doctype html><meta charset='utf-8'><title>multiattn gallery</title>",
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
            "img{max-width:100%;border:1px solid #ccc}</style><h1>multiattn gallery</h1>"]
    for section, entries in sections.items():
        md += [f"## {section}", ""]
        page.append(f"<h2>{escape(section)}</h2>")
        for item in entries:
            lines, fragment = _entry(item, out)
            md += lines
            page.append(fragment)
    (out / "index.md").write_text("\n".join(md))
    (out / "index.html").write_text("\n".join(page))
    return out / "index.html"
