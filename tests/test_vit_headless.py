"""A backbone without a class head (HF Dinov2Model folder, timm num_classes=0) explains no random head."""

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import Dinov2Config, Dinov2Model, ViTConfig

import multiattn
from multiattn.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dinov2_folder(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("dinov2")
    Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                             image_size=56, patch_size=14)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "photo.png"
    Image.fromarray((np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_headless_folder_loads_headless_and_defaults_to_rollout(dinov2_folder, photo):
    model, _ = multiattn.load_model(str(dinov2_folder), modality="image")
    assert type(model).__name__ == "Dinov2Model"
    amap = multiattn.explain(model, str(photo))
    assert amap.meta["method"] == "rollout" and amap.meta["head"].startswith("none")
    with pytest.raises(ValueError, match="no classification head"):
        multiattn.explain(model, str(photo), method="relevance")


def test_cli_on_a_headless_folder_is_deterministic(dinov2_folder, photo, tmp_path, capsys):
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        assert main(["image", str(photo), "--model", str(dinov2_folder), "--out", str(out)]) == 0
    assert "no class head" in capsys.readouterr().out
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert main(["image", str(photo), "--model", str(dinov2_folder), "--method", "all",
                 "--out", str(tmp_path / "all.png")]) == 0
    assert main(["image", str(photo), "--model", str(dinov2_folder), "--method", "relevance",
                 "--out", str(tmp_path / "c.png")]) != 0
    assert "no class head" in capsys.readouterr().err or not (tmp_path / "c.png").exists()


def test_wrong_family_folder_is_refused_before_weights(tmp_path):
    ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    assert not any(tmp_path.glob("*.safetensors"))  # config only: loading weights would fail differently
    with pytest.raises(ValueError, match="is an image model .* not image-text"):
        multiattn.load_model(str(tmp_path), modality="image-text")
