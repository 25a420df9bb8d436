"""corpus_statistics: streaming per-head statistics, checked against direct computation."""

import csv
import gc
import weakref

import numpy as np
import pytest

from multiattn.analysis import attention_distance, head_entropy, head_type_scores
from multiattn.analysis.corpus import QUANTILES, corpus_statistics, save_csv

from .conftest import random_attention

SENTENCES = [
    "The cat sat on the mat.", "A storm is coming from the west.", "She reads a book every night.",
    "Prices rose sharply last year.", "The river flows into the sea.", "He forgot his keys again.",
    "Birds sing at dawn.", "The meeting was moved to Friday.", "Our team won the final match.",
    "Bread is baked in the morning.", "The old bridge needs repairs.", "They planted trees in spring.",
    "Music filled the quiet hall.", "The train left ten minutes late.", "Snow covered the mountain peaks.",
    "A small boat drifted away.", "The lamp on the desk flickered.", "Children played in the park.",
    "The report is due tomorrow.", "Coffee keeps me awake.",
]


@pytest.fixture(scope="module")
def minilm():
    from multiattn.zoo._text import load_minilm

    return load_minilm()


def test_minilm_mean_matches_direct_and_memory_is_constant(minilm):
    from multiattn.adapters.text import capture

    model, tokenizer = minilm
    alive: list[weakref.ref] = []

    def capture_fn(text):
        grid = capture(model, text, processor=tokenizer)
        alive.append(weakref.ref(grid))
        return grid

    metrics = {"entropy": head_entropy, "distance": attention_distance}
    half = corpus_statistics(SENTENCES[:10], capture_fn, metrics, progress=False)
    full = corpus_statistics(iter(SENTENCES), capture_fn, metrics, progress=False)
    gc.collect()
    assert sum(ref() is not None for ref in alive) == 0  # no grid outlives its input
    # the kept state is the same size for 10 and for 20 inputs
    assert {k: v.nbytes for k, v in half["metrics"]["entropy"].items()} == \
        {k: v.nbytes for k, v in full["metrics"]["entropy"].items()}
    direct = np.stack([head_entropy(capture(model, text, processor=tokenizer)) for text in SENTENCES])
    table = full["metrics"]["entropy"]
    assert full["n_inputs"] == 20 and table["mean"].shape == (6, 12)
    np.testing.assert_allclose(table["mean"], direct.mean(0), rtol=1e-10)
    np.testing.assert_allclose(table["std"], direct.std(0, ddof=1), rtol=1e-8)
    np.testing.assert_allclose(table["q25"], np.quantile(direct, 0.25, axis=0), rtol=1e-10)
    assert (table["count"] == 20).all()


def test_reservoir_bounds_memory_and_nan_values_are_left_out(rng):
    values = [rng.random((2, 3)) for _ in range(50)]
    for v in values[::5]:
        v[0, 0] = np.nan
    it = iter(values)
    stats = corpus_statistics([f"input {i}" for i in range(50)], lambda text: next(it),
                              {"value": lambda v: v}, reservoir=8, progress=False)
    table = stats["metrics"]["value"]
    stacked = np.stack(values)
    assert table["count"][0, 0] == 40 and table["count"][1, 1] == 50
    np.testing.assert_allclose(table["mean"], np.nanmean(stacked, 0), rtol=1e-10)
    np.testing.assert_allclose(table["std"], np.nanstd(stacked, 0, ddof=1), rtol=1e-8)
    # quantiles come from 8 of the 50 inputs: inside the range of the data
    assert (table["q05"] >= np.nanmin(stacked, 0)).all() and (table["q95"] <= np.nanmax(stacked, 0)).all()
    assert (table["q05"] <= table["q50"]).all() and (table["q50"] <= table["q95"]).all()


def test_save_csv_round_trip(tmp_path, rng):
    attn = random_attention(rng, (2, 3, 6, 6))
    stats = corpus_statistics(["a", "", "b"], lambda text: attn,
                              {"entropy": head_entropy,
                               "induction": lambda a: head_type_scores(a)["induction"]}, progress=False)
    assert stats["n_inputs"] == 2  # the blank line is skipped
    path = save_csv(stats, tmp_path / "sub" / "stats.csv")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 2 * 2 * 3
    assert list(rows[0]) == ["metric", "layer", "head", "count", "mean", "std"] + \
        [f"q{round(q * 100):02d}" for q in QUANTILES]
    first = rows[0]
    assert float(first["mean"]) == pytest.approx(head_entropy(attn)[0, 0], rel=1e-5)
    assert float(first["std"]) == pytest.approx(0.0, abs=1e-12)
    undefined = [r for r in rows if r["metric"] == "induction"][0]  # no tokens: induction is NaN
    assert undefined["count"] == "0" and undefined["mean"] == "" and undefined["q50"] == ""


def test_bad_input_is_named(rng):
    attn = random_attention(rng, (1, 2, 4, 4))
    ok = {"entropy": head_entropy}
    with pytest.raises(ValueError, match="metrics is empty"):
        corpus_statistics(["a"], lambda t: attn, {}, progress=False)
    with pytest.raises(ValueError, match="no inputs"):
        corpus_statistics(["", "  "], lambda t: attn, ok, progress=False)
    with pytest.raises(TypeError, match="must be strings"):
        corpus_statistics([3], lambda t: attn, ok, progress=False)
    with pytest.raises(ValueError, match="layers, heads"):
        corpus_statistics(["a"], lambda t: attn, {"bad": lambda a: np.zeros(3)}, progress=False)
    shapes = iter([attn, random_attention(rng, (2, 2, 4, 4))])
    with pytest.raises(ValueError, match="same model"):
        corpus_statistics(["a", "b"], lambda t: next(shapes), ok, progress=False)
    with pytest.raises(ValueError, match="reservoir"):
        corpus_statistics(["a"], lambda t: attn, ok, reservoir=0, progress=False)
    with pytest.raises(ValueError, match="corpus_statistics"):
        save_csv({}, "x.csv")
