"""Slow: retrain the moving-shapes model from scratch and check it learns the task."""

import pytest


@pytest.mark.slow
def test_training_reaches_high_accuracy(tmp_path):
    from multiattn.zoo.train_moving_shapes import train
    from multiattn.zoo.video import load_moving_shapes

    result = train(tmp_path / "ms.safetensors", steps=400)
    assert result["test_accuracy"] >= 0.95
    assert result["bytes"] <= 3_000_000
    model = load_moving_shapes(tmp_path / "ms.safetensors")
    assert model.config.num_frames == 8 and model.config.use_mean_pooling is False
