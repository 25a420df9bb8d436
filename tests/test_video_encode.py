"""write_mp4 streams frames to ffmpeg as yuv420p: colours kept, any iterable of frames, counts checked."""

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from multiattn.errors import MultiattnRuntimeError, MultiattnValueError
from multiattn.renderers import _video_encode
from multiattn.renderers._video_encode import write_mp4
from multiattn.renderers._video_overlay import overlay_frames, overlay_stream


def _decoded(path, height, width):
    """The RGB frames of ``path`` as OpenCV's FFmpeg backend decodes them."""
    capture, frames = cv2.VideoCapture(str(path)), []
    try:
        while (frame := capture.read())[0]:
            frames.append(cv2.cvtColor(frame[1], cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    assert frames and frames[0].shape == (height, width, 3)
    return np.stack(frames)


def test_flat_colours_come_back_as_written(tmp_path):
    # BT.601 limited range as ffmpeg's own rgb24 conversion: a full-range (or BT.709) mix-up moves
    # white, grey and the primaries by 10-40 levels; H.264 keeps flat patches within a few
    colours = [(255, 255, 255), (128, 128, 128), (16, 16, 16), (220, 30, 30), (30, 200, 40), (40, 40, 210)]
    frames = np.stack([np.broadcast_to(np.array(c, np.uint8), (32, 48, 3)) for c in colours])
    back = _decoded(write_mp4(frames, tmp_path / "flat.mp4", fps=4), 32, 48)
    np.testing.assert_allclose(back.reshape(len(colours), -1, 3).mean(1), colours, atol=3)


def test_a_generator_gives_the_same_video_as_the_array(tmp_path):
    yy, xx = np.mgrid[0:40, 0:57]
    frames = np.stack([np.stack([xx * 4 + 9 * t, yy * 6, np.full_like(xx, 25 * t)], -1)
                       for t in range(9)]).astype(np.uint8)
    from_array = _decoded(write_mp4(frames, tmp_path / "a.mp4", fps=6), 40, 58)
    from_generator = _decoded(write_mp4((f for f in frames), tmp_path / "g.mp4", fps=6), 40, 58)
    assert from_array.shape == (9, 40, 58, 3)  # odd width padded to even
    np.testing.assert_array_equal(from_generator, from_array)


def test_overlay_stream_is_overlay_frames_one_at_a_time(rng):
    frames = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    maps = rng.random((5, 2, 2))
    stacked, scale, note = overlay_frames(frames, maps, alpha=0.6, normalise="frame")
    stream, stream_scale, stream_note = overlay_stream(frames, maps, 0.6, None, "bilinear", "frame")
    np.testing.assert_array_equal(np.stack(list(stream)), stacked)
    assert (stream_scale, stream_note) == (scale, note)


def test_bad_frames_mid_stream_are_refused_and_leave_no_file(tmp_path):
    def frames():
        yield np.zeros((16, 16, 3), np.uint8)
        yield np.zeros((16, 18, 3), np.uint8)  # another size

    out = tmp_path / "bad.mp4"
    with pytest.raises(MultiattnValueError, match="uint8"):
        write_mp4(frames(), out, fps=4)
    assert not out.exists()
    with pytest.raises(MultiattnValueError, match="non-empty"):
        write_mp4(iter([]), out, fps=4)
    with pytest.raises(MultiattnValueError, match="fps"):
        write_mp4(iter([np.zeros((8, 8, 3), np.uint8)]), out, fps=0)


def test_the_frame_count_is_read_back_and_checked(tmp_path, monkeypatch):
    path = write_mp4(np.zeros((7, 16, 16, 3), np.uint8), tmp_path / "c.mp4", fps=5)
    assert _video_encode._frame_count(path) == imageio_ffmpeg.count_frames_and_secs(str(path))[0] == 7
    assert _video_encode._frame_count(tmp_path / "missing.mp4") == 0
    monkeypatch.setattr(_video_encode, "_frame_count", lambda path: 6)
    with pytest.raises(MultiattnRuntimeError, match="reads back 6 frames, 7 were written"):
        write_mp4(np.zeros((7, 16, 16, 3), np.uint8), tmp_path / "d.mp4", fps=5)


def test_an_ffmpeg_failure_is_reported_with_its_message(tmp_path, monkeypatch):
    command = _video_encode._ffmpeg_command

    def broken(*args):  # a profile x264 does not know: the encoder does not open, ffmpeg exits
        return [*command(*args)[:-1], "-profile:v", "nonsense", command(*args)[-1]]

    monkeypatch.setattr(_video_encode, "_ffmpeg_command", broken)
    out = tmp_path / "broken.mp4"
    with pytest.raises(MultiattnRuntimeError, match="ffmpeg could not write .*exit code.*invalid profile"):
        write_mp4(np.zeros((30, 64, 64, 3), np.uint8), out, fps=4)
    assert not out.exists()
    with pytest.raises(MultiattnValueError, match="quality"):
        write_mp4(np.zeros((2, 8, 8, 3), np.uint8), out, fps=4, quality=11)
