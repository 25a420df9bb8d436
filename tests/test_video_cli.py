"""`multiattn video` command, the gallery section and the embedded moving-shapes model."""

import cv2
import numpy as np
import pytest

from multiattn._gallery import SECTIONS
from multiattn._gallery import video as section
from multiattn.cli import main
from multiattn.zoo._video import (
    DIRECTIONS,
    gradient_tile,
    load_moving_shapes,
    moving_shapes_clip,
    sample_clip_path,
)


def test_moving_shapes_clip_ground_truth():
    clip = moving_shapes_clip("right", frames=8, size=64, seed=3)
    assert clip.frames.shape == (8, 64, 64, 3) and clip.direction == "right"
    x0 = clip.boxes[:, 0]
    assert (np.diff(x0) > 0).all() and (np.diff(clip.boxes[:, 1]) == 0).all()
    # the gradient tile fills its box (up to noise) in every frame
    tile = gradient_tile(16)
    for frame, (a, b, c, d) in zip(clip.frames, clip.boxes.astype(int)):
        assert (c - a, d - b) == (16, 16)
        patch = frame[b:d, a:c].astype(float)
        assert np.abs(patch - tile).mean() < 15  # pixel noise has std 12
        outside = frame[b + 1:d - 1, max(a - 6, 0):a - 1].reshape(-1, 3).astype(float)
        assert a < 7 or np.abs(patch[1:-1, :5].reshape(-1, 3).mean(0) - outside.mean(0)).max() > 30
    with pytest.raises(ValueError, match="direction must be one of"):
        moving_shapes_clip("sideways")


def test_model_classifies_fresh_clips():
    from multiattn.adapters.video import capture

    model = load_moving_shapes()
    correct = 0
    for seed in range(90000, 90012):
        clip = moving_shapes_clip(seed=seed)
        correct += capture(model, clip.frames).meta["predicted"] == clip.label
    assert correct >= 11
    assert model.config.id2label[0] == DIRECTIONS[0]


def test_committed_model_tracks_the_object():
    """Every frame's peak of raw, rollout and relevance maps lies in the object's box (fresh clips)."""
    from multiattn.adapters.video import capture, readout_attention, relevance, space_time_rollout
    from multiattn.renderers.frames import frame_maps

    model = load_moving_shapes()
    hits = {"raw": [], "rollout": [], "relevance": []}
    for seed in range(91000, 91006):
        clip = moving_shapes_clip(seed=seed)
        grid = capture(model, clip.frames)
        maps = {"raw": readout_attention(grid), "rollout": space_time_rollout(grid),
                "relevance": relevance(model, clip.frames)}
        for name, amap in maps.items():
            volume = frame_maps(amap)
            rows, cols = np.divmod(volume.reshape(len(volume), -1).argmax(axis=1), volume.shape[2])
            x, y = (cols + 0.5) * 8, (rows + 0.5) * 8
            box = clip.boxes
            hits[name] += list((box[:, 0] <= x) & (x < box[:, 2]) & (box[:, 1] <= y) & (y < box[:, 3]))
    for name, frame_hits in hits.items():
        assert np.mean(frame_hits) >= 0.8, (name, np.mean(frame_hits))


def test_cli_writes_clip_sheet_and_timeline(tmp_path, capsys):
    out = tmp_path / "attention.mp4"
    assert main(["video", str(sample_clip_path()), "--out", str(out), "--method", "rollout"]) == 0
    printed = capsys.readouterr().out
    assert "explained: rollout - class" in printed
    for name in ("attention.mp4", "attention.gif", "attention_sheet.png", "attention_timeline.png"):
        assert (tmp_path / name).stat().st_size > 1000
    cap = cv2.VideoCapture(str(out))
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    assert n == 8


@pytest.mark.parametrize(
    "argv, message",
    [
        (["video", "missing.mp4", "--out", "x.mp4"], "not found"),
        (["video", "SAMPLE", "--out", "x.avi"], "--out must be an .mp4"),
        (["video", "SAMPLE", "--out", "x.mp4", "--model", "no-such-model"], "neither 'moving-shapes'"),
    ],
)
def test_cli_errors(argv, message, tmp_path, capsys):
    argv = [str(sample_clip_path()) if a == "SAMPLE" else a for a in argv]
    argv[argv.index("--out") + 1] = str(tmp_path / argv[argv.index("--out") + 1])
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_gallery(tmp_path):
    items = section.render(tmp_path / "video")
    assert SECTIONS.index("graph") < SECTIONS.index("video") < SECTIONS.index("depth") and len(items) == 4
    assert {item.path.suffix for item in items} == {".gif", ".png"}
    for item in items:
        assert item.path.exists() and item.section == "video"


def test_cli_local_hf_folder(tmp_path, capsys):
    """A local Hugging Face folder (here a random-init TimeSformer saved offline) works end to end."""
    import torch
    from transformers import TimesformerConfig, TimesformerForVideoClassification

    torch.manual_seed(0)
    config = TimesformerConfig(num_frames=4, image_size=64, patch_size=16, num_hidden_layers=1,
                               hidden_size=32, num_attention_heads=2, intermediate_size=64, num_labels=2)
    TimesformerForVideoClassification(config).save_pretrained(tmp_path / "tsf")
    out = tmp_path / "tsf.mp4"
    argv = ["video", str(sample_clip_path()), "--model", str(tmp_path / "tsf"), "--out", str(out),
            "--method", "rollout", "--normalise", "clip"]
    assert main(argv) == 0
    assert "rollout - class" in capsys.readouterr().out
    assert out.with_suffix(".gif").exists()
