"""``multiattn demo --out DIR``: render the gallery on the embedded default models."""

from __future__ import annotations

import argparse
import html
import os
from pathlib import Path

from . import GalleryItem, command_modules

GALLERY_ORDER = 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="render the demo gallery (all modalities) into a folder")
    p.add_argument("--out", default="gallery", help="output folder (default: gallery)")
    p.add_argument("--only", nargs="*", default=None, help="sections to render, e.g. text vit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    items: list[GalleryItem] = []
    for module in command_modules():
        name = module.__name__.rsplit(".", 1)[-1]
        if not hasattr(module, "gallery") or (args.only and name not in args.only):
            continue
        print(f"[demo] {name} ...", flush=True)
        items.extend(module.gallery(out / name))
    index = write_index(items, out)
    print(f"[demo] {len(items)} items; open {index}")
    return 0


def write_index(items: list[GalleryItem], out: Path) -> Path:
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
        page.append(f"<h2>{html.escape(section)}</h2>")
        for item in entries:
            rel = Path(os.path.relpath(item.path, out)).as_posix()
            md += [f"### {item.title}", "", item.caption, ""]
            page.append(f"<h3>{html.escape(item.title)}</h3><p>{html.escape(item.caption)}</p>")
            if rel.endswith((".png", ".gif", ".jpg")):
                md += [f"![{item.title}]({rel})", ""]
                page.append(f"<img src='{html.escape(rel)}' alt='{html.escape(item.title)}'>")
            else:
                md += [f"[{rel}]({rel})", ""]
                page.append(f"<p><a href='{html.escape(rel)}'>{html.escape(rel)}</a></p>")
    (out / "index.md").write_text("\n".join(md))
    (out / "index.html").write_text("\n".join(page))
    return out / "index.html"
