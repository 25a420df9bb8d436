"""The monitor on Whisper: decoder and cross-attention rows equal the statistics of multiattn.capture."""

from __future__ import annotations

import numpy as np
import pytest

import multiattn
from multiattn.monitor import monitor

torch = pytest.importorskip("torch")

TEXT = "the quick brown fox"


@pytest.fixture(scope="module")
def whisper():
    return multiattn.zoo.load("whisper-tiny.en")


def _cross_reference(cross: np.ndarray) -> dict[str, np.ndarray]:
    """Reading-path statistics of a captured cross grid ``(L, H, Q, n_audio)``, from the definitions."""
    w = cross.astype(np.float64)
    mass = w.sum(-1)
    centroid = (w * np.arange(w.shape[-1])).sum(-1) / mass
    return {"audio_share": mass.mean(-1),
            "monotonicity": (np.diff(centroid, axis=-1) >= 0).mean(-1),
            "coverage": (centroid.max(-1) - centroid.min(-1)) / (w.shape[-1] - 1)}


def test_whisper_decoder_and_cross_attention(whisper):
    from multiattn.adapters import whisper as adapter

    model, processor = whisper
    audio = multiattn.zoo.sample("whisper-tiny.en")
    grids = multiattn.capture(model, audio, processor=processor, text=TEXT)
    inputs = adapter.prepare(model, audio, processor=processor, text=TEXT)
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    implementation = model.config._attn_implementation
    with torch.no_grad():
        plain = model(**inputs).logits
        with monitor(model, processor=processor) as mon:
            watched = model(**inputs).logits
        records = {r.modality: r for r in mon.take()}
    torch.testing.assert_close(watched, plain, rtol=0, atol=1e-4)
    assert sorted(records) == ["audio-cross", "audio-decoder", "audio-encoder"]
    cross, decoder = records["audio-cross"], records["audio-decoder"]
    assert all(name.endswith("encoder_attn") for name in cross.layers)
    assert records["audio-encoder"].input_length == grids["cross"].values.shape[-1]  # real-audio frames
    got = dict(zip(cross.statistics, cross.values))
    for name, ref in _cross_reference(grids["cross"].values).items():
        np.testing.assert_allclose(got[name], ref, atol=1e-4, err_msg=name)
    assert got["monotonicity"].min() >= 0 and got["coverage"].max() <= 1
    from multiattn.analysis import head_entropy
    from multiattn.analysis.metrics import first_token_share, topk_concentration

    dec = grids["decoder"]
    mine = dict(zip(decoder.statistics, decoder.values))
    np.testing.assert_allclose(mine["entropy"], np.asarray(head_entropy(dec)), atol=2e-5)
    np.testing.assert_allclose(mine["top5"], np.asarray(topk_concentration(dec, 5)), atol=2e-5)
    np.testing.assert_allclose(mine["first_share"], np.asarray(first_token_share(dec)), atol=2e-5)
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()) == hooks
    assert model.config._attn_implementation == implementation


def test_generate_steps_are_monitored_without_a_reading_path(whisper):
    """generate runs the encoder on its own and decodes one token a step: monotonicity needs two."""
    from multiattn.adapters import whisper as adapter

    model, processor = whisper
    audio = multiattn.zoo.sample("whisper-tiny.en")
    features = adapter.prepare(model, audio, processor=processor, text=TEXT)["input_features"]
    with torch.no_grad(), monitor(model, processor=processor) as mon:
        model.generate(features, max_new_tokens=4)
    records = mon.take()
    kinds = [r.modality for r in records]
    assert kinds.count("audio-encoder") == 1 and "audio-cross" in kinds
    one_step = [r for r in records if r.modality == "audio-cross" and r.input_length == 1]
    assert one_step and "monotonicity" not in one_step[0].statistics
