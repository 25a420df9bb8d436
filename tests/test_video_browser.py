"""The MP4s multiattn writes play in Chromium: H.264 decoded, the right frames at the right times."""

import base64
import html
import json
import re

import numpy as np
import pytest

from multiattn.renderers._video_encode import write_mp4

from ._chromium import chromium, run_chromium

_PROBE = """
var r={can:document.createElement('video').canPlayType('video/mp4; codecs="avc1.42E01E"')};
var v=document.getElementById('v'), c=document.getElementById('c').getContext('2d');
function px(){c.drawImage(v,0,0);var d=c.getImageData(32,24,1,1).data;return [d[0],d[1],d[2]];}
function done(){document.documentElement.setAttribute('data-probe',JSON.stringify(r));}
v.addEventListener('error',function(){r.error=v.error&&v.error.code;done();});
// a decoded frame can reach the canvas a little after its event on a busy machine: poll until it does
function settle(key, ok, then, tries){r[key]=px();if(ok(r[key])||tries>50){then();}
  else{setTimeout(function(){settle(key, ok, then, tries+1)},20);}}
v.addEventListener('loadeddata',function(){r.w=v.videoWidth;r.h=v.videoHeight;r.duration=v.duration;
  settle('first',function(p){return p[0]>100},function(){
    v.addEventListener('seeked',function(){settle('late',function(p){return p[2]>100},done,0)},{once:true});
    v.currentTime=1.6;},0);});
"""


@pytest.mark.parametrize("preset", ["ultrafast", "medium"])
def test_written_mp4_plays_in_chromium_with_its_frames_in_order(tmp_path, preset):
    try:
        chromium()
    except FileNotFoundError as missing:
        pytest.fail(f"the browser tests need chromium: {missing}")
    frames = np.zeros((8, 48, 64, 3), np.uint8)  # 2 s at 4 fps: red, then blue
    frames[:4, ..., 0] = 220
    frames[4:, ..., 2] = 220
    data = base64.b64encode(write_mp4(frames, tmp_path / "c.mp4", fps=4, preset=preset).read_bytes())
    page = tmp_path / "p.html"  # a data: URL keeps the canvas readable (same origin)
    page.write_text(f'<!doctype html><html><body><video id="v" muted preload="auto" '
                    f'src="data:video/mp4;base64,{data.decode()}"></video>'
                    '<canvas id="c" width="64" height="48"></canvas></body></html>', encoding="utf-8")
    for budget_ms in (5_000, 20_000, 60_000):  # decoding runs on real threads: a busy machine needs longer
        found = re.search(r'data-probe="([^"]*)"', run_chromium(page, dump_dom=True, probe=_PROBE,
                                                                 virtual_time_ms=budget_ms))
        if found:
            break
    assert found, "Chromium never reported the video's first and seeked frames"
    result = json.loads(html.unescape(found.group(1)))
    assert result.get("error") is None and result["can"] == "probably", result
    assert (result["w"], result["h"], result["duration"]) == (64, 48, 2), result
    np.testing.assert_allclose(result["first"], [220, 0, 0], atol=12)  # frame 0: red
    np.testing.assert_allclose(result["late"], [0, 0, 220], atol=12)  # 1.6 s: frame 6, blue


def test_an_unknown_preset_is_refused_naming_the_presets(tmp_path):
    from multiattn.errors import MultiattnValueError

    with pytest.raises(MultiattnValueError, match="ultrafast.*veryslow"):
        write_mp4(np.zeros((2, 8, 8, 3), np.uint8), tmp_path / "x.mp4", fps=4, preset="warp")
