"""``multiattn clip IMAGE "caption one" "caption two" --out FILE.png``: where a caption is in an image.

``FILE.png`` is the side-by-side figure of the best-matching caption (image relevance on
the left, words on the right, lines from each important word to its top patches); with
several captions ``FILE_similarity.png`` adds the similarity table.  Without ``--model``
the embedded tiny CLIP (trained on synthetic two-shape scenes) is used.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import GalleryItem

GALLERY_ORDER = 30

__all__ = ["GALLERY_ORDER", "register", "run", "gallery", "explain_to_files"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clip", help="image-text relevance: where each caption (and word) is in an image")
    p.add_argument("image", help="image file")
    p.add_argument("captions", nargs="+", help="one or more captions (quote each)")
    p.add_argument("--out", default="clip.png", help="output PNG (default: clip.png)")
    p.add_argument("--model", default=None,
                   help="local Hugging Face CLIP folder (model + processor); default: the embedded tiny CLIP")
    p.add_argument("--top-k", type=int, default=3, help="lines per word to its strongest patches")
    p.set_defaults(func=run)


def _load(model_dir: str | None) -> tuple[Any, Any, dict | None]:
    """Model, processor and word alternatives (known for the embedded tiny CLIP only)."""
    if model_dir is None:
        from ..zoo.clip import load_tiny_clip, word_alternatives

        return (*load_tiny_clip(), word_alternatives())
    from transformers import CLIPModel, CLIPProcessor

    if not Path(model_dir).is_dir():
        raise FileNotFoundError(f"model folder not found: {model_dir}")
    model = CLIPModel.from_pretrained(model_dir, local_files_only=True)
    return model.eval(), CLIPProcessor.from_pretrained(model_dir, local_files_only=True), None


def explain_to_files(model: Any, processor: Any, image: Any, captions: list[str], out: Path,
                     *, alternatives: dict | None = None, top_k: int = 3,
                     display_size: int = 256) -> list[Path]:
    """Render the side-by-side figure of the best caption (and the similarity table) to files.

    Words are coloured and sized by the logit they carry (logit minus the mean logit of the
    counterfactual captions: word deleted, or replaced by ``alternatives``; positive part);
    each word with at least a fifth of the largest drop is linked to the top patches of its map.

    Example
    -------
    >>> explain_to_files(model, processor, "scene.png", ["a red circle"], Path("x.png"))  # doctest: +SKIP
    [PosixPath('x.png')]
    """
    import numpy as np

    from ..adapters.clip import caption_grounding, capture
    from ..renderers._style import save_figure
    from ..renderers.crossmodal import side_by_side, similarity_grid
    from ..renderers.image import to_rgb

    rgb = to_rgb(image)
    logits = capture(model, processor, rgb, captions).logits
    best = int(logits.argmax())
    grounding = caption_grounding(model, processor, rgb, captions[best], alternatives=alternatives)
    shown = _display(rgb, display_size)
    drops = np.clip([w.contribution for w in grounding.words], 0, None)
    fig = side_by_side(
        grounding.word_matrix(), grounding.word_axis, grounding.pair.image_map.axis, media=shown,
        token_weights=drops, key_weights=grounding.pair.image_map.values, top_k=top_k, min_share=0.2,
        label="image relevance of the caption (Chefer)",
        token_label="logit carried by the word (vs. counterfactuals)",
        title=f"\u201c{captions[best]}\u201d  logit {logits[best]:.2f}; lines: per-word maps",
    )
    paths = [save_figure(fig, out)]
    if len(captions) > 1:
        grid = similarity_grid(logits[None, :], [shown], captions, title="similarity of each caption")
        paths.append(save_figure(grid, out.with_name(f"{out.stem}_similarity{out.suffix or '.png'}")))
    return paths


def _display(rgb: Any, size: int) -> Any:
    """Upscale small images (nearest) so overlays and lines are legible; big ones stay."""
    import numpy as np

    factor = max(1, size // max(rgb.shape[:2]))
    return np.kron(rgb, np.ones((factor, factor, 1), dtype=rgb.dtype)) if factor > 1 else rgb


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".svg", ".pdf", ".jpg"):
        raise ValueError(f"--out must end in .png, .svg, .pdf or .jpg, got {out}")
    if not Path(args.image).is_file():
        raise FileNotFoundError(f"image file not found: {args.image}")
    model, processor, alternatives = _load(args.model)
    for path in explain_to_files(model, processor, args.image, list(args.captions), out,
                                 alternatives=alternatives, top_k=args.top_k):
        print(f"[clip] wrote {path}")
    return 0


def gallery(out_dir: Path) -> list[GalleryItem]:
    """Side-by-side figures on held-out synthetic scenes and two similarity tables."""
    import numpy as np

    from ..renderers._style import save_figure
    from ..renderers.crossmodal import similarity_grid
    from ..zoo.clip import load_tiny_clip, make_scenes, word_alternatives

    out_dir.mkdir(parents=True, exist_ok=True)
    model, processor = load_tiny_clip()
    scenes = make_scenes(4, seed=2024)
    items = []
    for k, scene in enumerate(scenes[:3]):
        path = explain_to_files(model, processor, scene.image, [scene.caption], out_dir / f"scene{k}.png",
                                alternatives=word_alternatives())[0]
        items.append(GalleryItem(
            "Image-text (CLIP)", f"Where the caption is: \u201c{scene.caption}\u201d", path,
            "Tiny CLIP trained in-repo on synthetic scenes. Left: Chefer relevance of the image-caption "
            "logit; right: words sized by the logit each carries against counterfactual captions (word "
            "deleted or swapped for another colour / shape); lines from each important word to the top "
            "patches of its own map (that logit share explained through the vision tower)."))
    from ..adapters.clip import capture

    scene = scenes[0]
    (c1, s1), (c2, s2) = scene.objects
    captions = [scene.caption, f"a {c2} {s1} and a {c1} {s2}", f"a {c1} {s2} and a {c2} {s1}",
                f"a {c1} {s1}", f"a {c2} {s2}"]
    logits = capture(model, processor, scene.image, captions).logits
    path = save_figure(similarity_grid(logits[None, :], [_display(scene.image, 128)], captions,
                                       title="one image, five captions"), out_dir / "captions_vs_image.png")
    items.append(GalleryItem("Image-text (CLIP)", "One image against several captions", path,
                             "Similarity logits; swapped colours or shapes should score lower than the "
                             "true caption."))
    rows = [capture(model, processor, s.image, [scene.caption]).logits for s in scenes]
    path = save_figure(similarity_grid(np.stack(rows), [_display(s.image, 128) for s in scenes],
                                       [scene.caption], title="several images, one caption"),
                       out_dir / "images_vs_caption.png")
    items.append(GalleryItem("Image-text (CLIP)", "Several images against one caption", path,
                             "The caption of image 0 scored on four held-out scenes."))
    return items
