"""Speech section: Whisper forced alignment of a sample with exact word boundaries (tiny.en, and base
when the extra ``whisper-base`` is installed)."""

from __future__ import annotations

import json
from pathlib import Path

from . import GalleryItem

_SAMPLE = "s1"
#: Embedded name -> how the section names it; base is optional (its PyPI parts are an extra).
_MODELS = {"whisper-tiny.en": "Whisper tiny.en", "whisper-base": "Whisper base"}


def render(out_dir: Path) -> list[GalleryItem]:
    """Strips, word links and encoder self-attention for each installed model; base's HTML view too."""
    from multiattn.errors import MissingDependencyError

    items: list[GalleryItem] = []
    for name, label in _MODELS.items():
        try:
            items += _model_items(name, label, Path(out_dir) / name.removeprefix("whisper-"))
        except MissingDependencyError as err:
            items.append(GalleryItem(f"Speech ({label})", f"{label}: not rendered", None,
                                     skipped=f"{label} is not installed ({err})"))
    return items


def _model_items(name: str, label: str, out_dir: Path) -> list[GalleryItem]:
    import multiattn
    from multiattn import media_samples
    from multiattn.adapters.whisper import align
    from multiattn.renderers.audio import word_links
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.writers import write_audio_report

    section = f"Speech ({label})"
    sample = media_samples.path("speech", f"{_SAMPLE}.wav")
    truth = next(t for t in json.loads((sample.parent / "ground_truth.json").read_text())
                 if t["file"] == sample.name)
    model, processor = multiattn.load_model(name)
    result = align(model, sample, processor=processor, text=truth["text"])
    paths = write_audio_report(result, out_dir, title=f"{label} forced alignment: "
                               f"\"{truth['text']}\" (espeak-ng, {sample.name})")
    paths.append(save_figure(word_links(result["grids"]["cross"], result["audio"], words=result["words"]),
                             out_dir / "links.png"))
    by_name = {p.name: p for p in paths}
    config = model.config
    items = [
        GalleryItem(section, "Cross-attention strips under the spectrogram", by_name["strips.png"],
                    "Each strip: the alignment heads' cross-attention while Whisper produces that "
                    "word, on the spectrogram's time axis. Solid red = word start, dotted = end "
                    "(DTW on the alignment heads, then the default refinement steps); green boxes = "
                    "the same spans."),
        GalleryItem(section, "Words linked to the frames they attend to", by_name["links.png"],
                    "Lines from each word to its 2 strongest frames (alignment heads, row that "
                    "predicts the word); words coloured by confidence. The predicting row often "
                    "already looks at the start of the next word."),
        GalleryItem(section, "Encoder self-attention (time x time)", by_name["encoder.png"],
                    f"Last encoder layer, mean of {config.encoder_attention_heads} heads, cropped to the "
                    "audio (30 s padding dropped)."),
        GalleryItem(section, "Word timings (words.json)", by_name["words.json"],
                    "word, start, end (seconds), confidence (mean token probability)."),
    ]
    if name != "whisper-tiny.en":  # tiny.en's HTML audio view is in the html section
        items += _html_view(result, truth, label, section, out_dir)
    return items


def _html_view(result: dict, truth: dict, label: str, section: str, out_dir: Path) -> list[GalleryItem]:
    """The HTML audio view of the cross-attention, and a screenshot with the word 'fox' focused."""
    from multiattn.renderers.html import save

    from ._browser import MISSING, hover, screenshot
    from .html import _best_alignment_head

    grid = result["grids"]["cross"]
    page = save(grid, out_dir / "audio_view.html", audio=(result["audio"], 16000), words=truth["words"],
                title=f"{label} cross-attention: \"{truth['text']}\"")
    layer, head, hits = _best_alignment_head(grid, truth["words"])
    probe = (f"var s=document.querySelectorAll('select');s[0].value='{layer}';"
             f"s[1].value='{head + 1}';s[1].dispatchEvent(new Event('change'));"
             + hover(".ma-word[data-index='3']"))
    shot = screenshot(page, out_dir / "audio_view.png", size=(960, 620), probe=probe)
    return [GalleryItem(section, f"{label} audio view (HTML)", page,
                        "Hover a token or a word: its cross-attention over time under the log-mel "
                        "spectrogram; click to hear that segment."),
            GalleryItem(section, "Screenshot: the word 'fox' focused", shot,
                        f"Layer {grid.layers[layer]}, head {grid.heads[head]}: the head whose peak falls "
                        f"inside the spoken word for {hits} of {len(truth['words'])} words.",
                        skipped="" if shot else MISSING)]
