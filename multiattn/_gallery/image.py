"""Image section: the embedded shapes-vit on its synthetic task and on real photos."""

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
    return items + _photo_items(model, out_dir, sample_photos())


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
