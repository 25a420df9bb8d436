"""``multiattn clip IMAGE "caption one" "caption two" --out FILE.png``: where a caption is in an image.

``FILE.png`` is the side-by-side figure of the best-matching caption (image relevance on the
left, words on the right, lines from each important word to its top patches); with several
captions ``FILE_similarity.png`` adds the similarity table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from multiattn.errors import MultiattnValueError

from . import _common

__all__ = ["register", "run"]

_SUFFIXES = (".png", ".svg", ".pdf", ".jpg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clip", help="image-text relevance: where each caption (and word) is in an image")
    p.add_argument("image", help="image file")
    p.add_argument("captions", nargs="+", help="one or more captions (quote each)")
    p.add_argument("--out", default="clip.png", help="output PNG (default: clip.png)")
    _common.add_model(p, "tiny-clip", "image-text")
    p.add_argument("--top-k", type=int, default=3, help="lines per word to its strongest patches")
    _common.add_save(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import multiattn
    from multiattn.adapters.clip import caption_grounding
    from multiattn.media import to_rgb
    from multiattn.renderers.crossmodal import grounding_figure, similarity_grid
    from multiattn.renderers.figure import save_figure

    out = Path(args.out)
    if out.suffix.lower() not in _SUFFIXES:
        raise MultiattnValueError(
            f"--out must end in {', '.join(_SUFFIXES[:-1])} or {_SUFFIXES[-1]}, got {out}")
    rgb, captions = to_rgb(args.image), list(args.captions)
    model, processor = multiattn.load_model(args.model, modality="image-text")
    grids = multiattn.capture(model, (rgb, captions), processor=processor)
    logits = np.asarray(grids.meta["logits"])
    # counterfactual words are known for the embedded model only
    alternatives = multiattn.zoo.word_alternatives() if args.model == "tiny-clip" else None
    grounding = caption_grounding(model, (rgb, captions[int(logits.argmax())]), processor=processor,
                                  alternatives=alternatives)
    paths = [save_figure(grounding_figure(rgb, grounding, top_k=args.top_k), out)]
    if len(captions) > 1:
        table = similarity_grid(logits[None, :], [rgb], captions,
                                title="similarity of each caption")
        paths.append(save_figure(table, out.with_name(f"{out.stem}_similarity{out.suffix}")))
    for path in paths:
        print(f"[clip] wrote {path}")
    _common.save(grids, args.save)
    return 0
