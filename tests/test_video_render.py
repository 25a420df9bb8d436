"""Video: reading clips (media), per-frame maps, H.264 MP4 / GIF clips, sheet, timeline, frame x frame."""

import re
import subprocess

import cv2
import imageio_ffmpeg
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from multiattn import AttentionGrid, AttentionMap, VideoAxis
from multiattn.adapters._timesformer import timesformer_grids as _timesformer_grids
from multiattn.media import read_video
from multiattn.renderers import frames as rv
from multiattn.renderers._video_encode import write_mp4
from multiattn.renderers.image import overlay

from .conftest import random_attention


def _write(path, frames, fps=15.0, color=True):
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height), color)
    for frame in frames:
        writer.write(frame if not color else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture
def ramp_video(tmp_path):
    """30 frames, 96x128 at 15 fps; frame i has brightness 8 * i."""
    frames = np.stack([np.full((96, 128, 3), 8 * i, np.uint8) for i in range(30)])
    return _write(tmp_path / "ramp.mp4", frames)


def test_read_all_and_sampled(ramp_video):
    clip = read_video(ramp_video)
    assert clip.frames.shape == (30, 96, 128, 3) and clip.frames.dtype == np.uint8
    assert clip.fps == pytest.approx(15.0)
    sampled = read_video(ramp_video, num_frames=8)
    np.testing.assert_array_equal(sampled.indices, [1, 5, 9, 13, 16, 20, 24, 28])
    assert sampled.fps == pytest.approx(15.0 * 8 / 30)
    brightness = sampled.frames.mean(axis=(1, 2, 3))
    np.testing.assert_allclose(brightness, 8 * sampled.indices, atol=5)  # lossy codec; neighbours differ by 8
    np.testing.assert_allclose(sampled.times, sampled.indices / 15.0)


def test_short_clip_repeats_frames(tmp_path):
    path = _write(tmp_path / "short.mp4", np.zeros((5, 32, 32, 3), np.uint8))
    clip = read_video(path, num_frames=16)
    assert clip.frames.shape[0] == 16 and clip.indices.tolist() == sorted(clip.indices.tolist())
    assert set(clip.indices.tolist()) == set(range(5))


def test_grayscale_and_high_resolution(tmp_path):
    gray = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (3, 48, 1))
    clip = read_video(_write(tmp_path / "gray.mp4", gray, color=False))
    assert clip.frames.shape == (3, 48, 64, 3)
    np.testing.assert_array_equal(clip.frames[..., 0], clip.frames[..., 2])
    big = np.zeros((2, 2160, 3840, 3), np.uint8)
    clip = read_video(_write(tmp_path / "4k.mp4", big), max_side=512)
    assert clip.frames.shape == (2, 288, 512, 3)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_video(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 20)
    with pytest.raises(ValueError, match="cannot decode|0 decodable frames"):
        read_video(junk)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="cannot decode|0 decodable frames"):
        read_video(empty)
    with pytest.raises(ValueError, match="num_frames"):
        read_video(junk, num_frames=0)


def test_frame_maps_hot_token_and_errors():
    axis = VideoAxis(8, 3, 4, tubelet=(2, 16, 16), fps=8, prefix=("CLS",))
    values = np.zeros(len(axis))
    values[axis.labels.index("t2r1c3")] = 1.0
    values[0] = 5.0  # CLS is not drawn
    per_frame = rv.frame_maps(AttentionMap(values, axis))
    assert [tuple(i) for i in np.argwhere(per_frame)] == [(4, 1, 3), (5, 1, 3)]
    with pytest.raises(ValueError, match="covers 8 frames but 6"):
        rv.frame_maps(AttentionMap(values, axis), 6)
    with pytest.raises(ValueError, match="spread evenly"):
        rv.frame_maps(np.zeros((3, 2, 2)), 8)
    with pytest.raises(ValueError, match="NaN"):
        rv.frame_maps(np.full((2, 2, 2), np.nan))


def test_overlay_frames_reuses_image_overlay(rng):
    frames = rng.integers(0, 256, size=(4, 40, 40, 3), dtype=np.uint8)
    maps = rng.random((2, 5, 5))
    out, scale, note = rv.overlay_frames(frames, maps, alpha=0.6)
    assert out.shape == frames.shape and note == "one scale for all frames"
    for i in range(4):  # the same global limits on every frame
        ref = overlay(frames[i], maps[i // 2], alpha=0.6, cmap=scale.cmap, vmin=scale.vmin, vmax=scale.vmax)
        np.testing.assert_array_equal(out[i], ref)
    with pytest.raises(ValueError, match="varying sizes"):
        rv.overlay_frames([frames[0], frames[1][:30]], maps)
    with pytest.raises(ValueError, match="uint8|0 frames"):
        rv.overlay_frames(np.zeros((0, 8, 8, 3), np.uint8), maps)


def _codec(path):
    """The first video stream's codec as ``ffmpeg -i`` reports it."""
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                           capture_output=True, text=True, check=False)
    return re.search(r"Stream #\S+.*?: Video: (\w+) .*?(yuv\w+)", probe.stderr).groups()


def test_write_mp4_is_h264_faststart_and_reads_back(tmp_path):
    # smooth frames (lossy H.264 keeps gradients within a few levels), odd size: padded to even
    yy, xx = np.mgrid[0:45, 0:61]
    frames = np.stack([np.stack([xx * 3 + 10 * t, yy * 5, np.full_like(xx, 40 * t)], -1)
                       for t in range(7)]).astype(np.uint8)
    path = write_mp4(frames, tmp_path / "sub" / "smooth.mp4", fps=5)
    assert _codec(path) == ("h264", "yuv420p")
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: the index precedes the media
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    assert meta["size"] == (62, 46) and meta["fps"] == pytest.approx(5)
    back = np.stack([np.frombuffer(f, np.uint8).reshape(46, 62, 3) for f in reader])
    assert back.shape == (7, 46, 62, 3)
    error = np.abs(back[:, :45, :61].astype(int) - frames)
    assert error.mean() < 3 and np.percentile(error, 99) < 12  # lossy, but the picture is kept
    np.testing.assert_allclose(back[:, 45].mean(), back[:, 44].mean(), atol=3)  # edge-padded row
    with pytest.raises(ValueError, match="uint8"):
        write_mp4(frames.astype(float), tmp_path / "f.mp4", fps=5)
    with pytest.raises(ValueError, match="fps"):
        write_mp4(frames, tmp_path / "f.mp4", fps=0)


def test_overlay_video_writes_h264_mp4_and_gif(tmp_path, rng):
    axis = VideoAxis(6, 2, 2, tubelet=(2, 16, 16), fps=6)
    frames = np.zeros((6, 32, 32, 3), np.uint8)
    hot = np.zeros(len(axis))
    hot[axis.labels.index("t1r0c1")] = 1.0
    paths = rv.write_overlay_video(frames, AttentionMap(hot, axis), tmp_path / "a.mp4", label="hot",
                                   upsample="nearest")
    cap = cv2.VideoCapture(str(paths["mp4"]))
    n, shown = 0, []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n += 1
        shown.append(frame)
    cap.release()
    assert n == 6 and _codec(paths["mp4"])[0] == "h264"
    gif = Image.open(paths["gif"])
    assert gif.n_frames == 6 and abs(gif.info["duration"] - 1000 / 6) <= 10  # GIF stores 10 ms units
    # the hot patch (top right quadrant) is bright only in frames 2-3 (tubelet 1)
    size = 256  # enlarged to min_side
    bright = [float(f[: size // 2, size // 2 : size].mean()) for f in shown]
    assert np.argsort(bright)[-2:].tolist() in ([2, 3], [3, 2])
    assert min(bright[2], bright[3]) > 3 * max(bright[0], bright[5])
    with pytest.raises(ValueError, match=".mp4"):
        rv.write_overlay_video(frames, AttentionMap(hot, axis), tmp_path / "a.avi")


def test_contact_sheet_and_figures(tmp_path, rng):
    axis = VideoAxis(8, 2, 3, tubelet=(2, 16, 16), fps=4)
    frames = rng.integers(0, 256, size=(8, 32, 48, 3), dtype=np.uint8)
    amap = AttentionMap(rng.random(len(axis)), axis)
    fig = rv.contact_sheet(frames, amap, tmp_path / "sheet.png", title="t", max_frames=4,
                           boxes=np.tile([1, 1, 10, 10], (8, 1)))
    assert (tmp_path / "sheet.png").stat().st_size > 1000
    assert len(fig.axes) == 5 and fig.axes[0].get_title() == "0.00 s"
    assert "one scale for all frames" in fig.axes[-1].get_ylabel()
    ax = rv.frame_timeline({"a": amap, "b": amap})
    shares = ax.get_lines()[0].get_ydata()
    assert shares.sum() == pytest.approx(1.0) and len(ax.get_lines()) == 2
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), axis.times)
    plt.close("all")


def test_temporal_heatmap_joint_and_divided(rng):
    axis = VideoAxis(4, 2, 2, tubelet=(1, 16, 16))
    joint = AttentionGrid(random_attention(rng, (2, 3, 16, 16)), axis)
    ax = rv.temporal_heatmap(joint, layer=0)
    matrix = ax.images[0].get_array()
    np.testing.assert_allclose(matrix.sum(1), 1.0, atol=1e-6)
    expected = joint.values[0].mean(0).reshape(4, 4, 4, 4).sum(axis=(1, 3)) / 4
    np.testing.assert_allclose(matrix, expected, atol=1e-6)
    divided_axis = VideoAxis(4, 2, 2, tubelet=(1, 16, 16), prefix=("CLS",))
    temporal = torch.from_numpy(random_attention(rng, (4, 2, 4, 4)))  # (patches, heads, T, T)
    spatial = torch.from_numpy(random_attention(rng, (4, 2, 5, 5)))
    grids = _timesformer_grids([spatial], [temporal], divided_axis, {})
    ax = rv.temporal_heatmap(grids)
    np.testing.assert_allclose(ax.images[0].get_array(), temporal.numpy().mean(axis=(0, 1)), atol=1e-6)
    assert "rows sum to 1" in ax.figure.axes[-1].get_ylabel()
    plt.close("all")


def test_frame_normalisation(rng):
    frames = rng.integers(0, 256, size=(2, 24, 24, 3), dtype=np.uint8)
    frames[1] = frames[0]
    pattern = rng.random((3, 3))
    maps = np.stack([10 * pattern, pattern])  # same pattern, 10x weaker in frame 1
    out, scale, note = rv.overlay_frames(frames, maps, normalise="frame")
    np.testing.assert_array_equal(out[0], out[1])
    assert (scale.vmin, scale.vmax, note) == (0.0, 1.0, "max |value| = 1 per frame")
    clip_out, *_ = rv.overlay_frames(frames, maps, normalise="clip")
    assert np.abs(clip_out[0].astype(int) - clip_out[1]).max() > 20  # one scale shows the difference
    with pytest.raises(ValueError, match="normalise must be"):
        rv.overlay_frames(frames, maps, normalise="global")
