"""dynamics_plot, the gallery item and the `corpus` command."""

import csv

import matplotlib.pyplot as plt
import numpy as np
import pytest

from multiattn.cli import main
from multiattn.renderers.training import dynamics_plot

METRICS = {
    "steps": np.array([0, 100, 200]),
    "induction": np.array([[[0.1, 0.0], [0.1, 0.2]], [[0.1, 0.0], [0.6, 0.2]], [[0.1, 0.0], [0.95, 0.3]]]),
    "entropy": np.full((3, 2, 2), 0.5),
}


def test_panels_best_head_and_phase_line():
    fig = dynamics_plot(METRICS, loss=np.linspace(3, 0.1, 201), scores=("induction", "entropy"))
    loss_ax, induction_ax, entropy_ax = fig.axes
    assert loss_ax.get_yscale() == "log" and entropy_ax.get_xlabel() == "training step"
    best = [line for line in induction_ax.get_lines() if line.get_label() == "highest at the end: L1 H0"]
    assert len(best) == 1 and best[0].get_ydata().tolist() == [0.1, 0.6, 0.95]
    phase_lines = [line for line in induction_ax.get_lines() if line.get_xdata()[0] == 100
                   and line.get_linestyle() == "--"]
    assert phase_lines  # best induction score reaches 0.5 at step 100
    assert "from step 100" in loss_ax.texts[0].get_text()
    plt.close(fig)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="'steps'"):
        dynamics_plot({"induction": METRICS["induction"]})
    with pytest.raises(ValueError, match="not in metrics"):
        dynamics_plot(METRICS, scores=("distance",))
    with pytest.raises(ValueError, match="1-D sequence of finite"):
        dynamics_plot(METRICS, loss=[1.0, np.nan], scores=("induction",))


def test_gallery_renders_the_training_dynamics(tmp_path):
    from multiattn._gallery.dynamics import render as gallery

    items = gallery(tmp_path)
    assert len(items) == 1 and items[0].path.exists() and items[0].path.stat().st_size > 20_000
    assert "0.99" in items[0].caption or "1.00" in items[0].caption


def test_corpus_command_writes_csv(tmp_path, capsys):
    text = tmp_path / "lines.txt"
    text.write_text("the cat sat\n\na dog ran away\n")
    out = tmp_path / "stats.csv"
    assert main(["corpus", str(text), "--out", str(out), "--model", "minilm",
                 "--metrics", "entropy,previous_token"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 * 6 * 12 and {r["metric"] for r in rows} == {"entropy", "previous_token"}
    assert all(r["count"] == "2" for r in rows)
    assert "2 inputs" in capsys.readouterr().out


def test_corpus_command_errors(tmp_path, capsys):
    text = tmp_path / "lines.txt"
    text.write_text("the cat sat\n")
    assert main(["corpus", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "one input per line" in capsys.readouterr().err
    assert main(["corpus", str(text), "--out", str(tmp_path / "x.csv"), "--metrics", "entropy,bogus"]) == 2
    assert "choose from" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()
