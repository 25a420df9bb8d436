"""``multiattn audio --model DIR`` with a wav2vec2-family folder: encoder self-attention, no alignment."""

from pathlib import Path

import pytest
import torch
import transformers as tf

from multiattn import load_grids
from multiattn.cli import main

SPEECH = Path(__file__).resolve().parents[1] / "media_samples" / "speech"


@pytest.fixture(scope="module")
def hubert_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = tf.HubertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                             num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    folder = tmp_path_factory.mktemp("hubert")
    tf.HubertModel(config).save_pretrained(folder)
    tf.Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(folder)
    return folder


def test_audio_command_writes_the_encoder_attention(hubert_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["audio", str(SPEECH / "s2.wav"), "--model", str(hubert_dir), "--out", str(out),
                 "--save", str(tmp_path / "grid.npz")]) == 0
    printed = capsys.readouterr().out
    assert "has no decoder" in printed and str(out / "encoder.png") in printed
    assert (out / "encoder.png").stat().st_size > 10_000 and not (out / "words.json").exists()
    grid = load_grids(tmp_path / "grid.npz")
    assert grid.n_layers == 2 and grid.query.hop_s == pytest.approx(0.02)
    assert grid.meta["input"].startswith("Wav2Vec2FeatureExtractor")


def test_audio_command_refuses_text_for_an_encoder(hubert_dir, tmp_path, capsys):
    code = main(["audio", str(SPEECH / "s2.wav"), "--model", str(hubert_dir), "--out", str(tmp_path),
                 "--text", "hello"])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # (after the weight-loading bar)
    assert code != 0 and "no decoder" in last and "drop --text" in last
