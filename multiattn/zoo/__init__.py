"""Embedded default models and samples (no network).

Each loader imports its stack lazily; no library code path needs the zoo.

- :func:`multiattn.zoo.text.load_minilm` — real all-MiniLM-L6-v2 (pip package).
- :func:`multiattn.zoo.text.load_induction` — tiny model trained in-repo to form an induction head.
- :func:`multiattn.zoo.whisper.whisper_tiny_en` — real Whisper tiny.en, converted from CTranslate2.
- :mod:`multiattn.zoo.vision`, :mod:`multiattn.zoo.clip`, :mod:`multiattn.zoo.video`,
  :mod:`multiattn.zoo.graph` — tiny models trained on synthetic data with known ground truth.
"""


def whisper_tiny_en():
    """The converted Whisper tiny.en ``(model, processor)``; see :mod:`multiattn.zoo.whisper`."""
    from .whisper import whisper_tiny_en as _load

    return _load()


__all__ = ["whisper_tiny_en"]
