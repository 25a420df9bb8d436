"""Whisper tiny.en word timings against exact ground truth; prints one JSON line.

Over every sample of ``media_samples/speech`` (espeak-ng words with exact boundaries):

- forced alignment of the true transcript: median / p90 absolute error of word starts and
  ends, for Whisper's recipe (alignment heads from the model config), the recipe with the
  fallback heads (last half of the decoder layers) and the recipe + snapping onto pauses;
- word error rate of greedy transcription (all samples pooled: edits / reference words);
- time to align ~30 s of audio (capture with greedy decoding + DTW word timings + the default
  refinement steps, i.e. what ``multiattn audio`` computes) as a ratio to plain greedy
  transcription of the same audio and to faster-whisper's ``transcribe(word_timestamps=True)``
  (greedy, the same CTranslate2 weights; when faster-whisper is installed), best of ``REPEATS``
  runs each, with the word error rate of both on the samples. Decoding is CTranslate2's when
  ``ctranslate2`` is installed (``"decoder"`` says which).

Connected speech with exact truth is ``bench_speech_timing.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from _timing import best_time

from multiattn.adapters import _whisper_decode
from multiattn.adapters.whisper import SAMPLE_RATE, align, capture, prepare_audio, transcribe
from multiattn.analysis.alignment import refine_timings, snap_to_energy, word_error_rate, word_timings
from multiattn.media import load_audio
from multiattn.zoo._whisper import whisper_model_dir, whisper_tiny_en

SPEECH = Path(__file__).resolve().parents[1] / "media_samples" / "speech"
REPEATS = 2


def _errors(words: list[dict], truth: list[dict]) -> tuple[list[float], list[float]]:
    if [w["word"].strip(".,") for w in words] != [t["word"] for t in truth]:
        raise RuntimeError(f"word mismatch: {[w['word'] for w in words]}")
    return ([abs(w["start"] - t["start"]) for w, t in zip(words, truth)],
            [abs(w["end"] - t["end"]) for w, t in zip(words, truth)])


def _summary(starts: list[float], ends: list[float]) -> dict:
    both = np.r_[starts, ends]
    return {"median_ms": round(1000 * float(np.median(both)), 1),
            "p90_ms": round(1000 * float(np.percentile(both, 90)), 1),
            "start_median_ms": round(1000 * float(np.median(starts)), 1),
            "end_median_ms": round(1000 * float(np.median(ends)), 1)}



def main() -> None:
    model, processor = whisper_tiny_en()
    truth = json.loads((SPEECH / "ground_truth.json").read_text())
    methods = {"recipe": ([], []), "recipe_last_half_heads": ([], []), "snapped": ([], []),
               "default_steps": ([], [])}
    last_half = [(layer, head) for layer in (2, 3) for head in range(6)]
    edits = ref_words = fw_edits = 0
    monos = []
    fw = _faster_whisper()
    for sample in truth:
        audio, sr = load_audio(SPEECH / sample["file"])
        mono, _ = prepare_audio(audio, sr)
        monos.append(mono)
        cross = capture(model, (audio, sr), processor=processor, text=sample["text"],
                        keep_encoder=False)["cross"]
        results = {"recipe": word_timings(cross),
                   "recipe_last_half_heads": word_timings(cross, heads=last_half)}
        results["snapped"] = snap_to_energy(results["recipe"], mono, SAMPLE_RATE)
        results["default_steps"] = refine_timings(results["recipe"], mono, SAMPLE_RATE)
        for name, words in results.items():
            starts, ends = _errors(words, sample["words"])
            methods[name][0].extend(starts)
            methods[name][1].extend(ends)
        hypothesis = transcribe(model, (audio, sr), processor=processor)
        n_ref = len(sample["text"].split())
        edits += word_error_rate(sample["text"], hypothesis) * n_ref
        ref_words += n_ref
        if fw is not None:
            fw_text = "".join(seg.text for seg in fw.transcribe(mono, beam_size=1, language="en")[0])
            fw_edits += word_error_rate(sample["text"], fw_text) * n_ref

    long_audio = np.concatenate(monos)
    while len(long_audio) < 29.5 * SAMPLE_RATE:
        long_audio = np.concatenate([long_audio, monos[len(long_audio) % len(monos)]])
    long_audio = long_audio[: int(29.5 * SAMPLE_RATE)]

    def align_30s() -> None:  # what `multiattn audio` computes: decoding, attention, timings, steps
        align(model, (long_audio, SAMPLE_RATE), processor=processor)

    t_transcribe = best_time(lambda: transcribe(model, (long_audio, SAMPLE_RATE), processor=processor),
                             REPEATS)
    t_align = best_time(align_30s, REPEATS)
    t_fw = None
    if fw is not None:
        def fw_words() -> None:
            segments, _ = fw.transcribe(long_audio, beam_size=1, language="en", word_timestamps=True)
            list(segments)

        fw_words()  # warm-up
        t_fw = best_time(fw_words, REPEATS)
    print(json.dumps({
        "benchmark": "whisper_word_timings",
        "model": "whisper tiny.en (CTranslate2 -> transformers, float32, CPU)",
        "samples": len(truth),
        "words": ref_words,
        "word_error_ms": {name: _summary(*errs) for name, errs in methods.items()},
        "target_median_ms": 60,
        "wer_greedy": round(edits / ref_words, 4),
        "wer_faster_whisper_greedy": None if fw is None else round(fw_edits / ref_words, 4),
        "decoder": "ctranslate2" if _whisper_decode.ct2_engine(model) is not None else "transformers",
        "align_30s_over_transcribe": round(t_align / t_transcribe, 3),
        "transcribe_30s_s": round(t_transcribe, 2),
        "align_30s_s": round(t_align, 2),
        "faster_whisper_word_timestamps_30s_s": None if t_fw is None else round(t_fw, 2),
        "align_30s_over_faster_whisper": None if t_fw is None else round(t_align / t_fw, 3),
    }))


def _faster_whisper():
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        return None
    return WhisperModel(str(whisper_model_dir()), device="cpu", compute_type="float32", cpu_threads=2)


if __name__ == "__main__":
    main()
