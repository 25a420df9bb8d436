"""Image-text section: the embedded tiny CLIP on held-out synthetic scenes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import GalleryItem

_SECTION = "Image-text (CLIP)"


def render(out_dir: Path) -> list[GalleryItem]:
    """Side-by-side figures on held-out synthetic scenes and two similarity tables."""
    import multiattn
    from multiattn.adapters.clip import caption_grounding
    from multiattn.renderers.crossmodal import grounding_figure, similarity_grid
    from multiattn.renderers.figure import save_figure
    from multiattn.zoo._clip import make_scenes, word_alternatives

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, processor = multiattn.load_model("tiny-clip")
    scenes = make_scenes(4, seed=2024)
    items = []
    for k, scene in enumerate(scenes[:3]):
        grounding = caption_grounding(model, (scene.image, scene.caption), processor=processor,
                                      alternatives=word_alternatives())
        path = save_figure(grounding_figure(scene.image, grounding), out_dir / f"scene{k}.png")
        items.append(GalleryItem(
            _SECTION, f"Where the caption is: \u201c{scene.caption}\u201d", path,
            "Tiny CLIP trained in-repo on synthetic scenes. Left: Chefer relevance of the image-caption "
            "logit; right: words sized by the logit each carries against counterfactual captions (word "
            "deleted or swapped for another colour / shape); lines from each important word to the top "
            "patches of its own map (that logit share explained through the vision tower)."))
    scene = scenes[0]
    (c1, s1), (c2, s2) = scene.objects
    captions = [scene.caption, f"a {c2} {s1} and a {c1} {s2}", f"a {c1} {s2} and a {c2} {s1}",
                f"a {c1} {s1}", f"a {c2} {s2}"]
    logits = np.asarray(multiattn.capture(model, (scene.image, captions), processor=processor).meta["logits"])
    path = save_figure(similarity_grid(logits[None, :], [scene.image], captions,
                                       title="one image, five captions"), out_dir / "captions_vs_image.png")
    items.append(GalleryItem(_SECTION, "One image against several captions", path,
                             "Similarity logits; swapped colours or shapes should score lower than the "
                             "true caption."))
    rows = [multiattn.capture(model, (s.image, [scene.caption]), processor=processor).meta["logits"]
            for s in scenes]
    path = save_figure(similarity_grid(np.stack(rows), [s.image for s in scenes],
                                       [scene.caption], title="several images, one caption"),
                       out_dir / "images_vs_caption.png")
    items.append(GalleryItem(_SECTION, "Several images against one caption", path,
                             "The caption of image 0 scored on four held-out scenes."))
    return items
