"""Speech section: Whisper tiny.en forced alignment of a sample with exact word boundaries."""

from __future__ import annotations

import json
from pathlib import Path

from . import GalleryItem

_SAMPLE = "s1"
_SECTION = "Speech (Whisper tiny.en)"


def render(out_dir: Path) -> list[GalleryItem]:
    """Strips, word links and encoder self-attention for a speech sample with exact ground truth."""
    import multiattn
    from multiattn import media_samples
    from multiattn.adapters.whisper import align
    from multiattn.renderers.audio import word_links
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.writers import write_audio_report

    out_dir = Path(out_dir)
    sample = media_samples.path("speech", f"{_SAMPLE}.wav")
    truth = json.loads((sample.parent / "ground_truth.json").read_text())
    text = next(t["text"] for t in truth if t["file"] == sample.name)
    model, processor = multiattn.load_model("whisper-tiny.en")
    result = align(model, sample, processor=processor, text=text)
    paths = write_audio_report(result, out_dir, title=f"Whisper tiny.en forced alignment: "
                               f"\"{text}\" (espeak-ng, {sample.name})")
    paths.append(save_figure(word_links(result["grids"]["cross"], result["audio"], words=result["words"]),
                             out_dir / "links.png"))
    by_name = {p.name: p for p in paths}
    return [
        GalleryItem(_SECTION, "Cross-attention strips under the spectrogram", by_name["strips.png"],
                    "Each strip: the alignment heads' cross-attention while Whisper produces that "
                    "word, on the spectrogram's time axis. Solid red = word start, dotted = end "
                    "(DTW on the alignment heads, snapped onto pauses); green boxes = the same spans."),
        GalleryItem(_SECTION, "Words linked to the frames they attend to", by_name["links.png"],
                    "Lines from each word to its 2 strongest frames (alignment heads, row that "
                    "predicts the word); words coloured by confidence. The predicting row often "
                    "already looks at the start of the next word."),
        GalleryItem(_SECTION, "Encoder self-attention (time x time)", by_name["encoder.png"],
                    "Last encoder layer, mean of 6 heads, cropped to the audio (30 s padding dropped)."),
        GalleryItem(_SECTION, "Word timings (words.json)", by_name["words.json"],
                    "word, start, end (seconds), confidence (mean token probability)."),
    ]
