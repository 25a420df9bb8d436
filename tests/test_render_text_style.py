"""renderers/_style.py: robust limits, colormap choice, colorbar labels, deterministic saving."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from multiattn.renderers._style import (
    DIVERGING_CMAP,
    SEQUENTIAL_CMAP,
    add_colorbar,
    choose_cmap,
    color_scale,
    get_axes,
    robust_limits,
)
from multiattn.renderers.figure import DPI, save_figure


def test_robust_limits_are_the_2_and_98_percentiles():
    values = np.arange(101.0)  # percentiles of 0..100 are the values themselves
    assert robust_limits(values) == (2.0, 98.0)
    outlier = np.append(np.linspace(0, 1, 999), 1000.0)
    vmin, vmax = robust_limits(outlier)
    assert vmax < 1.0 and vmin == pytest.approx(np.percentile(outlier, 2))


def test_signed_limits_are_symmetric_around_zero():
    assert robust_limits(np.array([-2.0, 0.5, 1.0]), percentiles=(0, 100)) == (-2.0, 2.0)
    assert robust_limits(np.array([0.1, 0.5]), signed=True, percentiles=(0, 100)) == (-0.5, 0.5)


def test_constant_and_nan_data():
    vmin, vmax = robust_limits(np.full(10, 0.3))
    assert vmin < 0.3 < vmax
    assert robust_limits(np.array([np.nan, 1.0, 3.0, np.inf]), percentiles=(0, 100)) == (1.0, 3.0)
    with pytest.raises(ValueError, match="no finite values"):
        robust_limits(np.array([np.nan, np.nan]))
    with pytest.raises(ValueError, match="no finite values"):
        color_scale(np.array([]))
    with pytest.raises(ValueError, match="percentiles"):
        robust_limits(np.arange(3.0), percentiles=(50, 10))


def test_cmap_choice_by_sign_and_rainbow_refused():
    assert choose_cmap(np.array([0.0, 0.4])) == SEQUENTIAL_CMAP == "viridis"
    assert choose_cmap(np.array([-0.1, 0.4])) == DIVERGING_CMAP
    assert choose_cmap(np.array([-0.1, 0.4]), "coolwarm") == "coolwarm"
    with pytest.raises(ValueError, match="rainbow"):
        choose_cmap(np.array([0.0, 1.0]), "jet")


def test_color_scale_records_clipping():
    data = np.append(np.linspace(0, 1, 99), 50.0)
    scale = color_scale(data)
    assert scale.clipped_high and scale.extend in ("max", "both") and scale.percentiles == (2.0, 98.0)
    fixed = color_scale(data, limits=(0, 100))
    assert not fixed.clipped and fixed.extend == "neither" and fixed.percentiles is None
    with pytest.raises(ValueError, match="vmin < vmax"):
        color_scale(data, limits=(1, 1))


def test_colorbar_label_states_normalisation_and_clipping():
    fig, ax = get_axes()
    data = np.append(np.linspace(0, 1, 99), 50.0).reshape(10, 10)
    scale = color_scale(data)
    im = ax.imshow(data, **scale.imshow_kwargs())
    cbar = add_colorbar(im, ax, "attention weight", normalised="rows sum to 1", scale=scale)
    assert cbar.ax.get_ylabel() == "attention weight\n(rows sum to 1; clipped to 2-98th pct)"
    assert cbar.extend in ("max", "both")
    short = add_colorbar(im, ax, "weight", normalised="per head")
    assert short.ax.get_ylabel() == "weight (per head)"
    plt.close(fig)


def test_get_axes_reuses_or_creates():
    fig, ax = plt.subplots()
    assert get_axes(ax) == (fig, ax)
    with pytest.raises(TypeError, match="Axes"):
        get_axes("not an axes")
    new_fig, new_ax = get_axes(figsize=(3, 2))
    assert new_fig is not fig and new_fig.get_size_inches().tolist() == [3.0, 2.0]
    plt.close("all")


def test_save_figure_is_deterministic_and_closes(tmp_path):
    outputs = []
    for name in ("a.png", "b.png", "c.svg", "d.svg"):
        fig, ax = get_axes()
        ax.imshow(np.arange(12.0).reshape(3, 4))
        ax.set_title("same picture")
        path = save_figure(fig, tmp_path / "sub" / name)
        assert not plt.fignum_exists(fig.number)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1] and outputs[2] == outputs[3]
    assert outputs[0][:8] == b"\x89PNG\r\n\x1a\n" and b"Software" not in outputs[0]
    assert b"tIME" not in outputs[0] and b"Date" not in outputs[2]


def test_save_figure_is_public_takes_an_axes_and_fixes_the_dpi(tmp_path):
    from PIL import Image

    import multiattn.renderers._style as style
    from multiattn.renderers import figure

    assert "save_figure" in figure.__all__ and style.save_figure is save_figure and style.DPI == DPI
    fig, ax = plt.subplots(figsize=(2, 1), dpi=50)
    ax.plot([0, 1])
    path = save_figure(ax, tmp_path / "axes.png")  # an Axes saves its figure
    assert not plt.fignum_exists(fig.number)
    with Image.open(path) as png:
        assert png.info["dpi"] == pytest.approx((DPI, DPI), abs=0.05)  # stored as pixels per metre
    with pytest.raises(TypeError, match="Figure or Axes"):
        save_figure("not a figure", tmp_path / "x.png")
