"""Audio and video HTML views: self-contained, escaped, bounded in size, and working in headless chromium."""

import base64
import io
import re
import wave

import numpy as np
import pytest

from multiattn import AttentionGrid
from multiattn.axes import TimeAxis, TokenAxis, VideoAxis
from multiattn.renderers.html import to_html

from .conftest import random_attention
from .test_html_browser import XSS_IMG, XSS_SCRIPT, _run
from .test_html_view import _decode, _payload

SR = 16_000
WORDS = [{"word": "hello", "start": 0.10, "end": 0.40}, {"word": XSS_IMG, "start": 0.50, "end": 0.80}]
LABELS = ["<|startoftranscript|>", " hel", "lo", " " + XSS_IMG, "<|endoftext|>"]


def _tone(seconds=1.0, sr=SR, freq=440.0):
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _audio_grid(rng, n_frames=50):
    """5 tokens -> 50 frames of 20 ms (1 s); token 1 peaks at frame 10, token 3 at frame 30."""
    values = random_attention(rng, (2, 2, len(LABELS), n_frames)) * 0.01
    values[:, :, 1, 10] += 1.0
    values[:, :, 3, 30] += 1.0
    values /= values.sum(axis=-1, keepdims=True)
    return AttentionGrid(values.astype(np.float32), TokenAxis(LABELS, [1, 0, 0, 0, 1]),
                         TimeAxis(n_frames, 0.02), kind="cross")


def _video_grid(rng, prefix=()):
    axis = VideoAxis(4, 3, 4, tubelet=(2, 8, 8), fps=4, prefix=prefix)
    return AttentionGrid(random_attention(rng, (2, 2, len(axis), len(axis))), axis)


def test_audio_payload_embeds_wav_spectrogram_and_escaped_words(rng):
    wav = _tone(1.0, sr=44_100)
    page = to_html(_audio_grid(rng), audio=(np.stack([wav, wav], axis=1), 44_100), words=WORDS)
    assert XSS_IMG not in page and "<script src" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)  # no network
    data = _payload(page)
    assert data["view"] == "audio" and data["words"] == WORDS and data["query"] == LABELS
    assert data["token_word"] == [-1, 0, 0, 1, -1]  # " hel" + "lo" spell "hello"
    with wave.open(io.BytesIO(base64.b64decode(data["wav"]))) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()) == (1, 2, SR, SR)
        samples = np.frombuffer(f.readframes(SR), "<i2") / 32767
    np.testing.assert_allclose(samples[100:-100], _tone(1.0)[100:-100], atol=0.01)  # resampled 44.1k -> 16k
    png = base64.b64decode(data["spectrogram"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    spec = np.asarray(Image.open(io.BytesIO(png)))
    assert spec.shape[0] == 128 and abs(spec.shape[1] - 101) <= 1  # 128 mel bands x 10 ms columns
    # the 440 Hz tone is the brightest row, in the lower part (low frequencies at the bottom)
    assert spec.sum(axis=(1, 2)).argmax() > 64
    assert data["duration"] == pytest.approx(1.0)
    assert len(page) < 100_000  # 1 s of 16-bit audio (43 kB base64) + a small grid


def test_audio_words_that_do_not_match_tokens_are_stated(rng):
    page = to_html(_audio_grid(rng), words=[{"word": "other", "start": 0.0, "end": 0.3}])
    data = _payload(page)
    assert data["token_word"] == [-1] * 5 and data["wav"] is None and data["spectrogram"] is None
    assert any("could not be matched" in note for note in data["notes"])


def test_video_payload_frames_and_weights(rng):
    grid = _video_grid(rng, prefix=("CLS",))
    frames = rng.integers(0, 255, (4, 24, 32, 3), dtype=np.uint8)
    data = _payload(to_html(grid, frames=frames, title="clip " + XSS_SCRIPT))
    assert data["view"] == "video" and len(data["frames"]) == 4 and data["tubelet_t"] == 2
    assert (data["width"], data["height"]) == (384, 288)
    assert all(base64.b64decode(f)[:2] == b"\xff\xd8" for f in data["frames"])  # JPEG
    q = _decode(data["weights"]["q"], np.uint8).reshape(-1, len(grid.key))
    scale = _decode(data["weights"]["scale"], np.float32)
    np.testing.assert_allclose(q * scale[:, None] / 255, grid.values.reshape(-1, len(grid.key)),
                               atol=scale.max() / 510 + 1e-7)


def test_video_frames_show_the_processor_crop(rng):
    # 48x96 frames resized to 64x128 and centre-cropped 64x64: the view shows the middle half only
    axis = VideoAxis(4, 4, 4, tubelet=(2, 16, 16), fps=4,
                     transform={"original_size": (48, 96), "resize": (64, 128), "crop": (0, 32, 64, 64)})
    grid = AttentionGrid(random_attention(rng, (1, 1, len(axis), len(axis))), axis)
    frames = np.zeros((4, 48, 96, 3), np.uint8)
    frames[:, :, 24:72] = 200  # the part the model saw is bright, the cropped sides black
    data = _payload(to_html(grid, frames=frames))
    assert data["width"] == data["height"]  # square, like the crop
    from PIL import Image

    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["frames"][0]))))
    assert shown[2:-2, 2:-2].min() > 150  # no black border: the cropped-away sides are not shown


@pytest.mark.parametrize(
    "options, match",
    [
        ({"audio": np.zeros(100)}, "pair"),
        ({"audio": (np.zeros(0), SR)}, "non-empty"),
        ({"audio": (np.full(10, np.nan), SR)}, "NaN"),
        ({"audio": (np.zeros(10), 0)}, "sample rate"),
        ({"audio": (np.zeros(10, dtype=complex), SR)}, "float or integer"),
        ({"audio": (np.zeros(121 * 100), 100)}, "at most 120 s"),
        ({"words": [{"word": "a", "start": 0.5}]}, "'word', 'start' and 'end'"),
        ({"words": [{"word": "a", "start": 0.5, "end": 0.2}]}, "start <= end"),
    ],
)
def test_audio_bad_input_is_named(rng, options, match):
    with pytest.raises(ValueError, match=match):
        to_html(_audio_grid(rng), **options)


@pytest.mark.parametrize(
    "frames, match",
    [
        (np.zeros((3, 8, 8, 3), np.uint8), r"T = 4"),
        (np.zeros((4, 8, 8), np.uint8), r"\(T, H, W, 3\)"),
        (np.zeros((4, 8, 8, 3), np.float32), "must be uint8"),
    ],
)
def test_video_bad_frames_are_named(rng, frames, match):
    with pytest.raises(ValueError, match=match):
        to_html(_video_grid(rng), frames=frames)


def test_video_self_attention_only(rng):
    axis = VideoAxis(2, 2, 2, tubelet=(1, 8, 8))
    grid = AttentionGrid(random_attention(rng, (1, 1, len(axis), 3)), axis, TokenAxis(list("abc")),
                         kind="cross")
    with pytest.raises(ValueError, match="self-attention over one VideoAxis"):
        to_html(grid)


def test_audio_view_in_browser_hover_and_click(tmp_path, rng):
    page = to_html(_audio_grid(rng), audio=(_tone(1.0), SR), words=WORDS, title="speech " + XSS_SCRIPT)
    probe = """
      function ink(c){var d=c.getContext('2d').getImageData(0,0,c.width,c.height).data,n=0;
        for(var i=0;i<d.length;i+=4){if(d[i]===214&&d[i+1]===39)n++}return n}
      function peakX(c){var d=c.getContext('2d').getImageData(0,0,c.width,c.height).data,best=c.height,x=-1;
        for(var i=0;i<d.length;i+=4){var p=i/4,y=Math.floor(p/c.width);
          if(d[i]===214&&d[i+1]===39&&y<best){best=y;x=p%c.width}}return x}
      var c=document.getElementById('ma-curve');
      r.ink0=ink(c);
      r.words=[].map.call(document.querySelectorAll('.ma-word'),function(n){return n.textContent});
      r.tokens=[].map.call(document.querySelectorAll('#ma-tokens .ma-tok'),function(n){return n.textContent});
      var t=document.querySelector("#ma-tokens .ma-tok[data-index='1']");
      t.dispatchEvent(new MouseEvent('mouseenter'));
      r.focus1=c.getAttribute('data-focus'); r.peak1=peakX(c); r.ink1=ink(c);
      r.status1=document.getElementById('ma-status').textContent;
      r.word_lit=document.querySelector(".ma-word[data-index='0']").classList.contains('ma-focus');
      var w=document.querySelector(".ma-word[data-index='1']");
      w.dispatchEvent(new MouseEvent('mouseenter')); r.peak2=peakX(c);
      r.status2=document.getElementById('ma-status').textContent;
      w.dispatchEvent(new MouseEvent('click'));
      var a=document.getElementById('ma-player');
      r.segment=a.getAttribute('data-segment'); r.time=a.currentTime;
      r.spec=document.getElementById('ma-spec').height;
      t.focus(); t.dispatchEvent(new KeyboardEvent('keydown',{key:'Enter'}));
      r.segment_keys=a.getAttribute('data-segment'); r.focus_keys=c.getAttribute('data-focus');
    """
    r = _run(tmp_path, page, probe)
    assert r["words"] == [w["word"] for w in WORDS] and r["tokens"] == LABELS  # shown as text
    assert r["ink0"] == 0 and r["ink1"] > 0 and r["focus1"] == "token1"
    # 900 px for 1 s: token 1 peaks at frame 10 (0.21 s), token 3 (= word 1) at frame 30 (0.61 s)
    assert abs(r["peak1"] - 0.21 * 900) <= 10 and abs(r["peak2"] - 0.61 * 900) <= 10
    assert r["status1"].startswith('Token " hel"') and "peak at 0.21 s" in r["status1"]
    assert r["word_lit"] and r["status2"].startswith("Word " + '"' + XSS_IMG.replace('"', '\\"'))
    assert r["segment"] == "0.500-0.800" and r["time"] == pytest.approx(0.5, abs=0.01)
    assert r["spec"] == 128
    assert r["focus_keys"] == "token1" and r["segment_keys"] == "0.100-0.400"  # " hel" is part of "hello"


def test_video_view_in_browser_slider_play_and_hover(tmp_path, rng):
    grid = _video_grid(rng, prefix=("CLS " + XSS_IMG,))
    frames = np.zeros((4, 24, 32, 3), np.uint8)
    frames[:, :, :, 0] = np.arange(4)[:, None, None] * 60  # frames differ in red
    probe = """
      var c=document.getElementById('ma-video'), s=document.getElementById('ma-frame');
      function sum(){var d=c.getContext('2d').getImageData(0,0,c.width,c.height).data,t=0;
        for(var i=0;i<d.length;i+=97)t+=d[i];return t}
      r.query0=c.getAttribute('data-query'); r.status0=document.getElementById('ma-status').textContent;
      var s0=sum(); s.value='3'; s.dispatchEvent(new Event('input'));
      r.frame=c.getAttribute('data-frame'); r.changed=sum()!==s0;
      r.label=document.getElementById('ma-frame-label').textContent;
      var b=c.getBoundingClientRect(), at={clientX:b.left+3.5*b.width/4,clientY:b.top+0.5*b.height/3};
      c.dispatchEvent(new MouseEvent('mousemove',at));
      r.query=c.getAttribute('data-query');
      c.dispatchEvent(new MouseEvent('click',at));
      c.dispatchEvent(new KeyboardEvent('keydown',{key:'ArrowDown'}));
      r.query_keys=c.getAttribute('data-query');
      var p=document.getElementById('ma-play'); p.click(); r.button=p.textContent; p.click();
      r.button_after=p.textContent;
    """
    r = _run(tmp_path, to_html(grid, frames=frames), probe)
    assert r["query0"] == "0" and r["status0"].startswith("Query CLS " + XSS_IMG)
    assert r["frame"] == "3" and r["changed"] and r["label"].startswith("frame 4 / 4")
    # frame 3 is in time step 1: prefix 1 + step 1 * 12 + row 0 * 4 + col 3
    assert r["query"] == str(1 + 12 + 3) and r["query_keys"] == str(1 + 12 + 4 + 3)
    assert r["button"] == "Pause" and r["button_after"] == "Play"



def test_cli_embeds_audio_and_video(tmp_path, rng, capsys):
    from multiattn.cli import main

    wav_path = tmp_path / "speech.wav"
    with wave.open(str(wav_path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SR)
        f.writeframes(np.round(_tone(0.5) * 32767).astype("<i2").tobytes())
    grid_path = _audio_grid(rng).save(tmp_path / "cross.npz")
    assert main(["html", str(grid_path), "--out", str(tmp_path / "a.html"), "--audio", str(wav_path)]) == 0
    data = _payload((tmp_path / "a.html").read_text())
    assert data["view"] == "audio" and data["duration"] == pytest.approx(1.0)  # the grid's 50 frames
    with wave.open(io.BytesIO(base64.b64decode(data["wav"]))) as f:
        assert f.getnframes() == SR // 2
    assert main(["html", str(grid_path), "--out", str(tmp_path / "b.html"), "--video", str(wav_path)]) == 2
    assert "needs a grid over a VideoAxis" in capsys.readouterr().err
    assert main(["html", str(grid_path), "--out", str(tmp_path / "c.html"), "--audio", "nope.wav"]) == 2
    assert "nope.wav does not exist" in capsys.readouterr().err


def test_cli_reads_the_clip_for_a_video_grid(tmp_path, rng):
    import cv2

    from multiattn.cli import main

    clip_path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip_path), cv2.VideoWriter_fourcc(*"MJPG"), 4, (32, 24))
    for i in range(6):
        writer.write(np.full((24, 32, 3), 40 * i, np.uint8))
    writer.release()
    grid_path = _video_grid(rng).save(tmp_path / "video.npz")
    assert main(["html", str(grid_path), "--out", str(tmp_path / "v.html"), "--video", str(clip_path)]) == 0
    data = _payload((tmp_path / "v.html").read_text())
    assert data["view"] == "video" and len(data["frames"]) == 4 and data["height"] == 288


def test_video_play_button_advances_frames(tmp_path, rng):
    from ._chromium import run_chromium

    path = tmp_path / "video.html"
    path.write_text(to_html(_video_grid(rng)), encoding="utf-8")  # 4 fps: a frame every 250 ms
    probe = ("document.getElementById('ma-play').click();setTimeout(function(){"
             "document.documentElement.setAttribute('data-probe',"
             "document.getElementById('ma-video').getAttribute('data-frame'))},600);")
    dom = run_chromium(path, dump_dom=True, probe=probe, virtual_time_ms=2000)
    assert re.search(r'data-probe="([^"]*)"', dom).group(1) == "2"
