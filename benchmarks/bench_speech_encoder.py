"""Cost of capturing a speech encoder's attention, against the plain forward. Prints one JSON line.

Random-init models with the published conv front end (7 convs, 20 ms frames) and a small
transformer (``--layers`` x ``--hidden``, 4 heads) on ``media_samples/speech/s1.wav`` (5.7 s, 283
frames).  For wav2vec2 and WavLM, in the same process and with one torch thread:

- ``*_forward_s``: median seconds of the model's own forward (its default attention kernel,
  no weights returned), the baseline;
- ``*_capture_s``: median seconds of :func:`multiattn.adapters.speech.capture` (eager attention,
  every layer's ``(H, T, T)`` copied to numpy; WavLM also recomputes each head and checks it);
- ``*_capture_ratio`` = capture / forward.

Usage: ``python benchmarks/bench_speech_encoder.py [--layers 4] [--hidden 256] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _timing import median_time

SAMPLE = Path(__file__).resolve().parents[1] / "media_samples" / "speech" / "s1.wav"


def measure(family: str, layers: int, hidden: int, repeats: int) -> dict:
    import torch
    import transformers as tf

    from multiattn.adapters import speech

    torch.manual_seed(0)
    name = {"wav2vec2": "Wav2Vec2", "wavlm": "WavLM"}[family]
    config = getattr(tf, f"{name}Config")(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                                          intermediate_size=4 * hidden)
    model = getattr(tf, f"{name}Model")(config).eval()
    batch = speech.prepare(model, SAMPLE)

    def forward():
        with torch.no_grad():
            model(**batch)

    def capture():
        speech.capture(model, SAMPLE)

    forward(), capture()  # warm-up
    plain, captured = median_time(forward, repeats), median_time(capture, repeats)
    frames = len(speech.capture(model, SAMPLE).query)
    return {f"{family}_forward_s": round(plain, 4), f"{family}_capture_s": round(captured, 4),
            f"{family}_capture_ratio": round(captured / plain, 2), "frames": frames}


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = {"benchmark": "speech_encoder", "layers": args.layers, "hidden": args.hidden}
    for family in ("wav2vec2", "wavlm"):
        out.update(measure(family, args.layers, args.hidden, args.repeats))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
