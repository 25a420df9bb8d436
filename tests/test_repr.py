"""Notebook reprs are compact (summary + thumbnail, <= 100 KB), escaped, and need no matplotlib."""

import base64
import io
import re
import subprocess
import sys

import numpy as np
from PIL import Image

from multiattn import AttentionGrid, AttentionMap, GridSet, TokenAxis
from multiattn._repr import MAX_BYTES, PANEL
from multiattn.axes import PatchAxis

from .conftest import random_attention

XSS = "<script>alert(1)</script>"


def _images(html):
    found = re.findall(r"base64,([A-Za-z0-9+/=]+)", html)
    return [Image.open(io.BytesIO(base64.b64decode(m))) for m in found]


def test_large_grid_repr_is_small_and_escaped(rng):
    labels = [XSS] + [f"t{i}" for i in range(511)]
    grid = AttentionGrid(random_attention(rng, (12, 12, 512, 512)), TokenAxis(labels))
    html = grid._repr_html_()
    assert len(html.encode()) <= MAX_BYTES and "<script>" not in html and "&lt;script&gt;" in html
    assert "12 layers" in html and "repr_html" in html  # the interactive view is named
    (thumb,) = _images(html)
    assert thumb.height <= PANEL and thumb.width <= 12 * (PANEL + 2)
    assert Image.open(io.BytesIO(grid._repr_png_())).size == thumb.size


def test_thumbnail_shows_the_matrix(rng):
    values = np.zeros((1, 1, 4, 4), np.float32)
    values[0, 0, :, 0] = 1.0  # every query on the first key
    grid = AttentionGrid(values, TokenAxis(list("abcd")))
    (thumb,) = _images(grid._repr_html_())
    pixels = np.asarray(thumb.convert("L"))
    quarter = pixels.shape[1] // 4
    assert pixels[:, : quarter - 1].max() < 100 and pixels[:, quarter + 1:].min() > 250


def test_map_and_gridset_reprs(rng):
    axis = PatchAxis(2, 3, 16, (32, 48), prefix=("CLS",))
    amap = AttentionMap(np.arange(7, dtype=float), axis)
    html = amap._repr_html_()
    assert "AttentionMap" in html and len(html) < MAX_BYTES
    width, height = Image.open(io.BytesIO(amap._repr_png_())).size
    assert width > height  # the 2 x 3 patch image, prefix dropped
    grid = AttentionGrid(random_attention(rng, (2, 1, 3, 3)), TokenAxis(list("abc")))
    many = GridSet({f"text.{i}": grid for i in range(400)})
    out = many._repr_html_()
    assert len(out.encode()) <= MAX_BYTES and "more grids" in out


def test_repr_imports_no_matplotlib():
    code = ("import sys, numpy as np; from multiattn import AttentionGrid, TokenAxis;"
            "g = AttentionGrid(np.full((1, 1, 2, 2), .5), TokenAxis(['a', 'b'])); g._repr_html_();"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
