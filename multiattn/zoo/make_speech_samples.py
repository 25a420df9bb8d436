"""Generate the speech samples in ``media_samples/speech/`` with exact word times.

How the ground truth is made exact: every word is synthesised *on its own* with
``espeak-ng`` (``--stdout``, 22.05 kHz), resampled to the file's sample rate,
and trimmed to its first and last sample whose magnitude exceeds 2 % of the word's
peak.  The trimmed words are concatenated with known pauses of silence between
them (pause lengths drawn from a seeded generator).  A word's ``start`` / ``end``
are therefore the sample indices where its audio begins and ends, divided by the
sample rate: exact by construction, not estimated.

Files (all 16-bit PCM):

- ``s1`` ... ``s5``: 16 kHz mono, different espeak voices, speeds and sentences.
- ``stereo44k``: 44.1 kHz stereo (right channel at 0.6x the left) for resampling and
  down-mixing.
- ``noise_lead``: 1.2 s of silence, then 0.8 s of low white noise (-40 dBFS) before the
  first word, for voice-activity and alignment robustness.

``ground_truth.json`` lists, per file, its sample rate, channels, voice, speed, text and
``words`` as ``{"word", "start", "end"}`` in seconds.

This needs ``espeak-ng`` on PATH (``apt-get install espeak-ng``) and runs once; the
WAVs are committed so tests and CI need no espeak.  Run::

    python -m multiattn.zoo.make_speech_samples [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import numpy as np

from multiattn.errors import MultiattnValueError

__all__ = ["SAMPLES", "synthesise_word", "build_sample", "main"]

#: name -> (voice, words per minute, sentence, sample rate, channels, lead-in)
SAMPLES: dict[str, tuple[str, int, str, int, int, str]] = {
    "s1": ("en-us", 150, "the quick brown fox jumps over the lazy dog", 16000, 1, "none"),
    "s2": ("en-gb", 140, "please call stella and ask her to bring these things", 16000, 1, "none"),
    "s3": ("en-us", 175, "we will meet at the station at nine tomorrow morning", 16000, 1, "none"),
    "s4": ("en-gb-x-rp", 125, "open the window and let the fresh air in", 16000, 1, "none"),
    "s5": ("en-us-nyc", 160, "my favourite colour is green and my house is small", 16000, 1, "none"),
    "stereo44k": ("en-gb", 150, "the weather is very nice today", 44100, 2, "none"),
    "noise_lead": ("en-us", 150, "turn left at the next corner", 16000, 1, "noise"),
}

_ESPEAK_RATE = 22050
_TRIM_FRACTION = 0.02
_PAUSE_RANGE_S = (0.08, 0.22)
_EDGE_SILENCE_S = 0.3


def synthesise_word(word: str, voice: str, speed: int, sr: int) -> np.ndarray:
    """One word from espeak-ng, resampled to ``sr`` and trimmed to its audible samples.

    Example
    -------
    >>> synthesise_word("hello", "en-us", 150, 16000).shape  # doctest: +SKIP
    (6480,)
    """
    import librosa
    import soundfile as sf

    raw = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", word],
        check=True, capture_output=True,
    ).stdout
    audio, rate = sf.read(BytesIO(raw), dtype="float32")
    if rate != _ESPEAK_RATE:
        raise MultiattnValueError(f"espeak-ng wrote {rate} Hz, expected {_ESPEAK_RATE}")
    audio = librosa.resample(audio, orig_sr=rate, target_sr=sr)
    loud = np.flatnonzero(np.abs(audio) > _TRIM_FRACTION * np.abs(audio).max())
    return audio[loud[0] : loud[-1] + 1]


def build_sample(name: str, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Concatenate the words of one sample with known pauses; return audio and its truth."""
    voice, speed, text, sr, channels, lead = SAMPLES[name]
    lead_s = {"none": _EDGE_SILENCE_S, "noise": 2.0}[lead]
    pieces = [np.zeros(int(lead_s * sr), np.float32)]
    cursor = len(pieces[0])
    words = []
    for i, word in enumerate(text.split()):
        if i:
            pause = np.zeros(int(rng.uniform(*_PAUSE_RANGE_S) * sr), np.float32)
            pieces.append(pause)
            cursor += len(pause)
        audio = synthesise_word(word, voice, speed, sr)
        words.append({"word": word, "start": round(cursor / sr, 6),
                      "end": round((cursor + len(audio)) / sr, 6)})
        pieces.append(audio)
        cursor += len(audio)
    pieces.append(np.zeros(int(_EDGE_SILENCE_S * sr), np.float32))
    mono = np.concatenate(pieces)
    if lead == "noise":
        start, stop = int(1.2 * sr), int(2.0 * sr)
        mono[start:stop] += rng.normal(0, 0.01, stop - start).astype(np.float32)
    mono *= 0.8 / np.abs(mono).max()
    audio = np.stack([mono, 0.6 * mono], axis=1) if channels == 2 else mono
    truth = {"file": f"{name}.wav", "sample_rate": sr, "channels": channels, "voice": voice,
             "speed_wpm": speed, "text": text, "words": words}
    return audio, truth


def main(argv: list[str] | None = None) -> int:
    """Write every sample and ``ground_truth.json`` into ``--out``."""
    import soundfile as sf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "media_samples" / "speech"
    parser.add_argument("--out", type=Path, default=default)
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("espeak-ng not found: apt-get install espeak-ng", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2024)
    manifest = []
    for name in SAMPLES:
        audio, truth = build_sample(name, rng)
        sf.write(args.out / truth["file"], audio, truth["sample_rate"], subtype="PCM_16")
        manifest.append(truth)
    (args.out / "ground_truth.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(manifest)} samples to {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
