"""Slow: retrain the moving-shapes model from scratch and check it learns the task."""

import pytest


@pytest.mark.slow
def test_training_reaches_high_accuracy(tmp_path):
    from multiattn.zoo._video import load_moving_shapes
    from multiattn.zoo.train_moving_shapes import train

    result = train(tmp_path / "ms.safetensors")  # the script's defaults
    assert result["test_accuracy"] >= 0.95
    assert result["bytes"] <= 1_000_000
    assert result["seconds"] <= 15 * 60
    model = load_moving_shapes(tmp_path / "ms.safetensors")
    assert model.config.num_frames == 8 and model.config.use_mean_pooling is False


@pytest.mark.slow
def test_training_is_reproducible(tmp_path):
    """Same seed, same bytes: the committed file is what the script writes (checked on a short run)."""
    from multiattn.zoo.train_moving_shapes import train

    for name in ("a", "b"):
        train(tmp_path / f"{name}.safetensors", steps=30)
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
