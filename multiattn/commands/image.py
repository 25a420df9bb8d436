"""``multiattn image PATH --out FILE.png``: where a vision transformer looks in an image.

Examples::

    multiattn image cat.jpg --out cat.png                        # shapes-vit, relevance
    multiattn image cat.jpg --method all --out compare.png       # raw | rollout | grad-rollout | relevance
    multiattn image cat.jpg --model ./my-hf-vit --target tabby --out cat.png
    multiattn image cat.jpg --model timm:vit_small_patch16_224 --weights vit_s.safetensors --out cat.png

The gallery section (``multiattn demo --only image``) renders the embedded
shapes-vit on its synthetic task (where the right answer is known) and on the
free-licence photos in ``media_samples/vit``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from . import GalleryItem

__all__ = ["GALLERY_ORDER", "register", "run", "render_explanation", "gallery"]

GALLERY_ORDER = 20

_METHODS = ("raw", "rollout", "grad-rollout", "relevance")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("image", help="attention / relevance of a vision transformer on an image")
    p.add_argument("path", help="image file (jpg, png, ...)")
    p.add_argument("--model", default="shapes-vit",
                   help="shapes-vit (default), a Hugging Face model directory, or timm:NAME with --weights")
    p.add_argument("--weights", default=None, help="safetensors weights for a timm:NAME model")
    p.add_argument("--method", default="relevance", choices=[*_METHODS, "all"],
                   help="explanation method; 'all' draws the four side by side")
    p.add_argument("--target", default=None, help="class index or name to explain (default: predicted)")
    p.add_argument("--upsample", default="bilinear", choices=["bilinear", "nearest", "bicubic"])
    p.add_argument("--threshold", type=float, default=None,
                   help="colour only the top share of the map's mass, e.g. 0.6 (DINO style)")
    p.add_argument("--shared-scale", action="store_true", help="with --method all: one colour scale")
    p.add_argument("--out", required=True, help="output PNG")
    p.set_defaults(func=run)


def _target(value: str | None) -> Any:
    return int(value) if value is not None and value.lstrip("-").isdigit() else value


def render_explanation(model: Any, processor: Any, image: Any, out: Path, *, method: str = "relevance",
                       target: Any = None, upsample: str = "bilinear", threshold: float | None = None,
                       shared_scale: bool = False) -> Path:
    """Explain one image and save the figure (one overlay, or the four methods with ``method="all"``).

    Example
    -------
    >>> render_explanation(*load_model("shapes-vit"), "cat.jpg", Path("cat.png"))  # doctest: +SKIP
    """
    from ..adapters.vit import explain
    from ..renderers._style import get_axes, save_figure
    from ..renderers.image import compare_plot, overlay_plot

    methods = _METHODS if method == "all" else (method,)
    maps = {}
    for name in methods:
        # with "all", the target applies to the gradient methods only; alone, explain() refuses it
        keep = method != "all" or name in ("grad-rollout", "relevance")
        maps[name] = explain(model, image, processor, method=name, target=target if keep else None)
    first = next(iter(maps.values()))
    ref = maps.get("relevance", first).meta  # with "all": name the class the gradient methods explain
    if "target_label" in ref:
        cls = f"explained class {ref['target_label']!r} (predicted {ref.get('predicted_label', '?')!r})"
    else:
        cls = f"predicted class {ref.get('predicted_label', '?')!r}"
    if method == "all":
        fig = compare_plot(image, maps, shared_scale=shared_scale, upsample=upsample, threshold=threshold,
                           title=f"{first.meta['model']}: {cls}")
    else:
        fig, ax = get_axes(figsize=(6, 5))
        overlay_plot(image, first, ax=ax, upsample=upsample, threshold=threshold,
                     title=f"{method}: {cls}\n{first.meta['values']}", label=method)
    return save_figure(fig, out)


def run(args: argparse.Namespace) -> int:
    from ..adapters.vit import load_model

    if not Path(args.path).is_file():
        raise FileNotFoundError(f"image file not found: {args.path}")
    model, processor = load_model(args.model, args.weights)
    out = render_explanation(model, processor, args.path, Path(args.out), method=args.method,
                             target=_target(args.target), upsample=args.upsample,
                             threshold=args.threshold, shared_scale=args.shared_scale)
    print(out)
    return 0


# -- gallery -------------------------------------------------------------------------------
def _box_patch(ax: Any, box: tuple) -> None:
    from matplotlib.patches import Rectangle

    top, left, bottom, right = box
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False,
                           edgecolor="lime", linewidth=1.5, linestyle="--"))


def _upscaled(image: np.ndarray, factor: int = 6) -> np.ndarray:
    """Nearest-neighbour enlargement so a 48 px image is readable in a figure."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def gallery(out_dir: Path) -> list[GalleryItem]:
    """Render the image section of the demo gallery into ``out_dir``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: extra intra-op threads only add overhead
    try:
        return _gallery_items(out_dir)
    finally:
        torch.set_num_threads(threads)


def _gallery_items(out_dir: Path) -> list[GalleryItem]:
    from ..adapters.vit import capture, explain
    from ..renderers._style import get_axes, save_figure
    from ..renderers.image import attention_grid_plot, compare_plot, overlay_plot, query_patch_plot
    from ..zoo.vision import load_shapes_vit, make_shapes_image, sample_photos

    out_dir.mkdir(parents=True, exist_ok=True)
    model, processor = load_shapes_vit()
    section, items = "Images (ViT)", []
    rng = np.random.default_rng(7)
    samples = [make_shapes_image(rng) for _ in range(3)]
    factor = 6
    for i, (img, label, box) in enumerate(samples):
        big = _upscaled(img, factor)
        maps = {m: explain(model, big, processor, method=m) for m in _METHODS}
        pred = maps["relevance"].meta["target_label"]
        fig = compare_plot(big, maps, upsample="nearest",
                           title=f"shapes-vit, synthetic image: predicted {pred!r}, true "
                                 f"{model.config.id2label[label]!r}; green box = target")
        for ax in fig.axes[: len(maps) + 1]:
            _box_patch(ax, tuple(v * factor for v in box))
        path = save_figure(fig, out_dir / f"shapes_compare_{i}.png")
        items.append(GalleryItem(section, f"Four explanations, synthetic image {i}", path,
                                 "raw CLS attention (last layer) | rollout | gradient rollout | Chefer "
                                 "relevance, each on its own robust scale; the dashed box is the red target "
                                 "shape the label depends on (benchmarks/bench_vit.py measures how often the "
                                 "maximum falls in it)."))
    big = _upscaled(samples[0][0], factor)
    maps = {m: explain(model, big, processor, method=m) for m in _METHODS}
    fig = compare_plot(big, maps, shared_scale=True, upsample="bilinear",
                       title="shared scale: share of each map")
    items.append(GalleryItem(section, "Shared colour scale", save_figure(fig, out_dir / "shapes_shared.png"),
                             "The same four maps divided by their positive mass, on one colour scale."))
    grid = capture(model, big, processor)
    fig = attention_grid_plot(big, grid, over="head", layer=-1, size=2.2)
    items.append(GalleryItem(section, "CLS attention per head (last layer)",
                             save_figure(fig, out_dir / "shapes_heads.png"),
                             "Small multiples, one shared scale; patch-exact (nearest) upsampling."))
    fig = attention_grid_plot(big, grid, over="layer", size=2.2)
    items.append(GalleryItem(section, "CLS attention per layer (mean of heads)",
                             save_figure(fig, out_dir / "shapes_layers.png"), ""))
    top, left, bottom, right = samples[0][2]
    patch = ((top + bottom) // 2 // 8, (left + right) // 2 // 8)
    fig, ax = get_axes(figsize=(5, 4.2))
    query_patch_plot(big, grid, patch, layer=0, ax=ax)
    items.append(GalleryItem(section, "Where does this patch look?",
                             save_figure(fig, out_dir / "shapes_query_patch.png"),
                             f"Attention of the patch {patch} (cyan) inside the target, first layer, "
                             "mean of heads."))
    fig, ax = get_axes(figsize=(5, 4.2))
    overlay_plot(big, maps["relevance"], ax=ax, threshold=0.6, upsample="nearest",
                 title="relevance: top 60 % of the mass (DINO style)", label="relevance")
    items.append(GalleryItem(section, "Threshold mode", save_figure(fig, out_dir / "shapes_threshold.png"),
                             "Only the patches holding the top 60 % of the relevance mass are coloured, "
                             "outlined in white."))
    items += _photo_items(model, out_dir, section, sample_photos())
    return items


def _photo_items(model: Any, out_dir: Path, section: str, photos: list[Path]) -> list[GalleryItem]:
    from transformers import BitImageProcessor

    from ..adapters.vit import capture, explain
    from ..renderers._style import save_figure
    from ..renderers.image import attention_grid_plot, compare_plot

    # shortest edge to 56, center crop 48: the map covers only the central square the model saw
    crop_processor = BitImageProcessor(size={"shortest_edge": 56}, crop_size={"height": 48, "width": 48},
                                       image_mean=[0.5] * 3, image_std=[0.5] * 3, resample=2)
    items = []
    for photo in photos:
        maps = {m: explain(model, photo, crop_processor, method=m) for m in _METHODS}
        fig = compare_plot(photo, maps, upsample="bilinear", alpha=0.55,
                           title=f"{photo.name}: shapes-vit (trained only on red shapes) after resize + "
                                 "center crop; the uncoloured margins were cropped away")
        path = save_figure(fig, out_dir / f"photo_{photo.stem}.png")
        items.append(GalleryItem(section, f"Photo: {photo.stem}", path,
                                 "A real photo (free licence, media_samples/vit/README.md) through the "
                                 "toy model: maps land on the original pixels via the recorded resize "
                                 "and crop."))
    if photos:
        grid = capture(model, photos[0], crop_processor)
        fig = attention_grid_plot(photos[0], grid, over="head", layer=-1, size=2.2, upsample="bilinear")
        items.append(GalleryItem(section, f"Photo: CLS attention per head ({photos[0].stem})",
                                 save_figure(fig, out_dir / "photo_heads.png"), ""))
    return items
