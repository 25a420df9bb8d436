"""The shapes-vit default model, its synthetic data, the `image` CLI and gallery."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from multiattn.zoo import _vision as vision

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def shapes_vit():
    return vision.load_shapes_vit()


def test_generator_is_deterministic_and_box_holds_the_red_target():
    a = vision.make_shapes_dataset(20, seed=5)
    b = vision.make_shapes_dataset(20, seed=5)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    images, labels, boxes = a
    assert set(labels.tolist()) <= {0, 1, 2}
    for img, (top, left, bottom, right) in zip(images, boxes):
        red = (img[..., 0] >= 200) & (img[..., 1] < 50) & (img[..., 2] < 50)
        ys, xs = np.nonzero(red)
        assert ys.size > 20
        assert top <= ys.min() and ys.max() < bottom and left <= xs.min() and xs.max() < right


def test_weights_are_small_and_model_is_accurate(shapes_vit):
    model, processor = shapes_vit
    assert vision.WEIGHTS_PATH.stat().st_size <= 3_000_000
    import torch

    images, labels, _ = vision.make_shapes_dataset(200, seed=777)
    with torch.no_grad():
        pixel_values = processor(images=list(images), return_tensors="pt")["pixel_values"]
        pred = model(pixel_values=pixel_values).logits.argmax(-1).numpy()
    assert (pred == labels).mean() >= 0.9


def test_relevance_points_at_the_target(shapes_vit):
    """A small version of benchmarks/bench_vit.py (which uses 500 images)."""
    from multiattn.adapters.vit import explain

    model, processor = shapes_vit
    rng = np.random.default_rng(4242)
    hits = 0
    for _ in range(50):
        image, label, (top, left, bottom, right) = vision.make_shapes_image(rng)
        patches = explain(model, image, processor=processor, method="relevance", target=label).to_image()
        r, c = np.unravel_index(np.argmax(patches), patches.shape)
        hits += top <= (r + 0.5) * 8 < bottom and left <= (c + 0.5) * 8 < right
    assert hits / 50 >= 0.85


def test_sample_photos_are_small_and_readable():
    photos = vision.sample_photos()
    assert len(photos) >= 3
    assert sum(p.stat().st_size for p in photos) < 1_000_000
    for p in photos:
        assert min(Image.open(p).size) >= 224


def test_image_command(tmp_path):
    from multiattn._commands import image as command

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    photo = vision.sample_photos()[0]
    out = tmp_path / "all.png"
    args = parser.parse_args(["image", str(photo), "--method", "all", "--shared-scale", "--out", str(out)])
    assert args.func(args) == 0
    with Image.open(out) as img:
        assert img.width > 2 * img.height
    args = parser.parse_args(["image", str(photo), "--method", "raw", "--target", "square",
                              "--out", str(out)])
    with pytest.raises(ValueError, match="target"):
        args.func(args)
    args = parser.parse_args(["image", str(tmp_path / "missing.jpg"), "--out", str(out)])
    with pytest.raises(FileNotFoundError):
        args.func(args)
    args = parser.parse_args(["image", str(photo), "--model", "nonsense", "--out", str(out)])
    with pytest.raises(ValueError, match="unknown model"):
        args.func(args)


def test_cli_main_reports_errors(tmp_path, capsys):
    from multiattn.cli import main

    out = tmp_path / "rel.png"
    assert main(["image", str(vision.sample_photos()[0]), "--target", "circle", "--out", str(out)]) == 0
    assert out.is_file()
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    assert main(["image", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    assert "corrupt" in capsys.readouterr().err


def test_hf_directory_and_timm_weights_load(tmp_path, shapes_vit):
    from safetensors.torch import save_file

    from multiattn import load_model
    from multiattn.adapters.vit import capture

    model, processor = shapes_vit
    model.save_pretrained(tmp_path / "hf")
    processor.save_pretrained(tmp_path / "hf")
    loaded, loaded_proc = load_model(str(tmp_path / "hf"))
    img = vision.make_shapes_image(np.random.default_rng(0))[0]
    np.testing.assert_allclose(capture(loaded, img, processor=loaded_proc).values,
                               capture(model, img, processor=processor).values, atol=1e-6)
    import timm

    tiny = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=2)
    save_file(tiny.state_dict(), str(tmp_path / "t.safetensors"))
    timm_model, none = load_model("timm:vit_tiny_patch16_224", weights=str(tmp_path / "t.safetensors"))
    assert none is None and timm_model.head.out_features == 2
    torch.testing.assert_close(timm_model.head.weight, tiny.head.weight)
    with pytest.raises(ValueError, match="do not fit"):
        load_model("timm:vit_tiny_patch16_384", weights=str(tmp_path / "t.safetensors"))
    with pytest.raises(FileNotFoundError, match="weights"):
        load_model("timm:vit_tiny_patch16_224")
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_model(str(tmp_path))


def test_gallery_renders_every_item(tmp_path):
    """The whole gallery section (13 figures; `multiattn demo --only image` runs it too)."""
    from multiattn._gallery import image as section

    items = section.render(tmp_path / "g")
    assert len(items) >= 8
    for item in items:
        assert Path(item.path).is_file() and item.section == "Images (ViT)"
    json.dumps([str(i.path) for i in items])


def test_training_preprocessing_matches_the_processor():
    from multiattn.zoo.train_shapes_vit import to_pixel_values

    images, _, _ = vision.make_shapes_dataset(4, seed=9)
    expected = vision.shapes_vit_processor()(images=list(images), return_tensors="pt")["pixel_values"]
    torch.testing.assert_close(to_pixel_values(images), expected, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_training_reaches_the_shipped_accuracy():
    """Full training run (about 5 minutes on a shared 2-core machine)."""
    from multiattn.zoo.train_shapes_vit import train

    _, accuracy = train()
    assert accuracy >= 0.95
