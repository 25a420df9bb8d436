"""Interactive HTML section: one offline view per modality, each with a headless-Chromium screenshot.

Without Chromium the pages are still written; the screenshots are listed as skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from multiattn.errors import MultiattnValueError

from . import GalleryItem
from ._browser import MISSING, hover, screenshot

_SECTION = "Interactive HTML views"
_TEXT = "The quick brown fox jumps over the lazy dog because it was bored."


def _shot(title: str, page: Path, path: Path, caption: str = "", **options: Any) -> GalleryItem:
    """A screenshot item, or a skipped one when Chromium is missing."""
    done = screenshot(page, path, **options)
    return GalleryItem(_SECTION, title, done, caption, skipped="" if done else MISSING)


def render(out_dir: Path) -> list[GalleryItem]:
    """Text (MiniLM), image (shapes-vit), graph (karate GAT), audio (Whisper tiny.en) and video
    (moving-shapes VideoMAE) views, each with a screenshot."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _text(out_dir) + _image(out_dir) + _graph(out_dir) + _audio(out_dir) + _video(out_dir)


def _text(out_dir: Path) -> list[GalleryItem]:
    import multiattn
    from multiattn.renderers.html import save

    model, tokenizer = multiattn.load_model("minilm")
    page = save(multiattn.capture(model, _TEXT, processor=tokenizer), out_dir / "minilm_text.html",
                title="MiniLM (all-MiniLM-L6-v2): " + _TEXT)
    return [GalleryItem(_SECTION, "MiniLM head view (HTML, open in a browser)", page,
                        "Hover a token to focus it, choose layer and heads; the Model view tab shows "
                        "all 6 x 12 heads."),
            _shot("Screenshot: head view with the token 'fox' focused", page, out_dir / "minilm_text.png",
                  probe=hover(".ma-left .ma-tok[data-index='4']")),
            _shot("Screenshot: model view (click a thumbnail to open it)", page,
                  out_dir / "minilm_model_view.png", size=(1200, 760),
                  probe="document.getElementById('tab-model').click();")]


def _image(out_dir: Path) -> list[GalleryItem]:
    import multiattn
    from multiattn.analysis.rollout import rollout
    from multiattn.renderers.html import save

    vit, processor = multiattn.load_model("shapes-vit")
    image = np.kron(multiattn.zoo.sample("shapes-vit"), np.ones((6, 6, 1), dtype=np.uint8))  # larger
    grid = multiattn.capture(vit, image, processor=processor)
    page = save(grid, out_dir / "shapes_vit_image.html", image=image,
                maps={"CLS rollout (all layers)": multiattn.AttentionMap(np.asarray(rollout(grid))[0],
                                                                         grid.key)},
                title="shapes-vit on a synthetic shapes image")
    return [GalleryItem(_SECTION, "shapes-vit image view (HTML)", page,
                        "Move over the image: the attention of that patch; map selector: CLS, a "
                        "hovered patch, or the attention rollout."),
            _shot("Screenshot: CLS attention of the last layer (mean of heads)", page,
                  out_dir / "shapes_vit_image.png", size=(900, 660)),
            _shot("Screenshot: CLS rollout map selected", page, out_dir / "shapes_vit_rollout.png",
                  size=(900, 660), probe="var s=document.querySelector('select');s.value='2';"
                                         "s.dispatchEvent(new Event('change'));")]


def _graph(out_dir: Path) -> list[GalleryItem]:
    import multiattn
    from multiattn.renderers.html import save

    model, _ = multiattn.load_model("karate-gat")
    grid = multiattn.capture(model, multiattn.zoo.sample("karate-gat"))
    page = save(grid, out_dir / "karate_graph.html", title="Karate club, 2-layer GATv2")
    return [GalleryItem(_SECTION, "Karate club graph view (HTML)", page,
                        "Hover or Tab to a node: its incoming attention edges and their weights."),
            _shot("Screenshot: node 0 (Mr. Hi) focused", page, out_dir / "karate_graph.png",
                  size=(1000, 760), probe=hover("circle[data-index='0']"))]


def _best_alignment_head(grid: Any, words: list[dict]) -> tuple[int, int, int]:
    """(layer, head, hits): the cross-attention head whose peak frame lies inside the word for most words.

    Needs one text token per word (true for the gallery sentence)."""
    tokens = [i for i, label in enumerate(grid.query.labels) if label.strip() and not label.startswith("<|")]
    if [grid.query.labels[i].strip() for i in tokens] != [w["word"] for w in words]:
        raise MultiattnValueError("the gallery sentence must give one Whisper token per word")
    peaks = grid.key.times[grid.values[:, :, tokens].argmax(axis=-1)]  # (L, H, words)
    starts, ends = (np.array([w[k] for w in words]) for k in ("start", "end"))
    hits = ((peaks >= starts) & (peaks <= ends)).sum(axis=-1)
    layer, head = np.unravel_index(hits.argmax(), hits.shape)
    return int(layer), int(head), int(hits[layer, head])


def _audio(out_dir: Path) -> list[GalleryItem]:
    import multiattn
    from multiattn import media_samples
    from multiattn.media import load_audio
    from multiattn.renderers.html import save

    speech = media_samples.path("speech")
    truth = json.loads((speech / "ground_truth.json").read_text(encoding="utf-8"))[0]
    waveform, sr = load_audio(speech / truth["file"])
    model, processor = multiattn.load_model("whisper-tiny.en")
    grid = multiattn.capture(model, (waveform, sr), processor=processor, text=truth["text"],
                             progress=False)["cross"]
    page = save(grid, out_dir / "whisper_audio.html", audio=(waveform, sr), words=truth["words"],
                title=f"Whisper tiny.en cross-attention: \"{truth['text']}\"")
    layer, head, hits = _best_alignment_head(grid, truth["words"])
    probe = (f"var s=document.querySelectorAll('select');s[0].value='{layer}';"
             f"s[1].value='{head + 1}';s[1].dispatchEvent(new Event('change'));"
             + hover(".ma-word[data-index='3']"))
    return [GalleryItem(_SECTION, "Whisper audio view (HTML)", page,
                        "Hover a token or a word: its cross-attention over time under the log-mel "
                        "spectrogram; click to hear that segment."),
            _shot("Screenshot: the word 'fox' focused", page, out_dir / "whisper_audio.png",
                  f"Layer {grid.layers[layer]}, head {grid.heads[head]}: the head whose peak falls inside "
                  f"the spoken word for {hits} of {len(truth['words'])} words.", size=(960, 620),
                  probe=probe)]


def _video(out_dir: Path) -> list[GalleryItem]:
    import multiattn
    from multiattn.media import read_video
    from multiattn.renderers.html import save
    from multiattn.zoo._video import moving_shapes_clip, sample_clip_path

    model, _ = multiattn.load_model("moving-shapes")
    clip = read_video(sample_clip_path(), num_frames=model.config.num_frames)
    grid = multiattn.capture(model, clip.frames, fps=clip.fps)
    page = save(grid, out_dir / "moving_shapes_video.html", frames=clip.frames,
                title=f"Moving-shapes VideoMAE (predicted '{grid.meta['predicted_label']}')")
    frame = 5
    x0, y0, x1, y1 = moving_shapes_clip("up", frames=16, size=128, seed=7).boxes[clip.indices][frame]
    height, width = clip.frames.shape[1:3]
    probe = (f"var s=document.getElementById('ma-frame');s.value='{frame}';"
             "s.dispatchEvent(new Event('input'));var c=document.getElementById('ma-video'),"
             "b=c.getBoundingClientRect();c.dispatchEvent(new MouseEvent('mousemove',"
             f"{{clientX:b.left+{(x0 + x1) / 2 / width}*b.width,"
             f"clientY:b.top+{(y0 + y1) / 2 / height}*b.height}}));")
    return [GalleryItem(_SECTION, "Moving-shapes video view (HTML)", page,
                        "Frame slider and play button; move over a frame to choose the query patch."),
            _shot("Screenshot: frame 6, the moving square's patch as query", page,
                  out_dir / "moving_shapes_video.png", size=(960, 620), probe=probe)]
