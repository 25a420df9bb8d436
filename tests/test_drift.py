"""Drift you can name: padding, shuffled words, another alphabet, a training phase change — and silence
on two samples of one distribution (false-positive rate over repeated splits)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

import multiattn

pytest.importorskip("datasketches")
torch = pytest.importorskip("torch")

from multiattn._profile_worker import run_inputs  # noqa: E402
from multiattn._summary import Profile  # noqa: E402
from multiattn.drift import drift  # noqa: E402
from multiattn.monitor import Monitor  # noqa: E402

_RNG = random.Random(0)
_S = ["the cat", "a young doctor", "my neighbour", "the old train", "our teacher", "a small bird",
      "the city council", "his sister"]
_V = ["watched", "painted", "repaired", "visited", "described", "found", "followed", "ignored"]
_O = ["the river at dawn", "a broken window", "the new library", "an empty street", "the morning news",
      "a quiet garden", "the last letter", "a red bicycle"]
_E = [".", " yesterday.", " again.", " with great care.", " before lunch.", "!"]
NORMAL = [f"{_RNG.choice(_S).capitalize()} {_RNG.choice(_V)} {_RNG.choice(_O)}{_RNG.choice(_E)}"
          for _ in range(64)]
GREEK = ["Η γάτα κάθεται στο χαλί και κοιτάζει τον κήπο.", "Ο δάσκαλος διάβασε το βιβλίο χθες.",
         "Το τρένο έφυγε νωρίς το πρωί.", "Η αδελφή του βρήκε ένα κόκκινο ποδήλατο.",
         "Ο γείτονας επισκέφθηκε τη νέα βιβλιοθήκη.", "Ένα μικρό πουλί τραγούδησε στο παράθυρο.",
         "Το δημοτικό συμβούλιο αγνόησε το γράμμα.", "Η γιατρός περιέγραψε τον ήσυχο κήπο."] * 4


def _shuffled(text: str, rng: random.Random) -> str:
    words = text.rstrip(".!").split()
    rng.shuffle(words)
    return " ".join(words) + "."


@pytest.fixture(scope="module")
def minilm_records():
    """Per-request statistics of MiniLM on each corpus (monitored once, split as the tests need)."""
    model, tok = multiattn.zoo.load("minilm")
    rng = random.Random(1)
    corpora = {"normal": NORMAL, "padded": [s + " [PAD]" * 30 for s in NORMAL[32:]],
               "shuffled": [_shuffled(s, rng) for s in NORMAL[32:]], "greek": GREEK}
    out = {}
    for name, texts in corpora.items():
        mon = Monitor(model, None, processor=tok)
        with mon:
            run_inputs(model, tok, mon, texts, batch_size=8, max_length=128)
        out[name] = mon.take()
    return out


def _profile(records) -> Profile:
    prof = Profile.empty(records[0].statistics, records[0].layers, records[0].values.shape[2])
    prof.add_records(records)
    return prof


def test_padding_is_flagged_on_the_padding_share(minilm_records):
    ref, new = _profile(minilm_records["normal"][:32]), _profile(minilm_records["padded"])
    report = drift(ref, new)
    pad = report.statistics.index("padding_share")
    assert report.flagged[pad].mean() > 0.9  # nearly every head now looks at [PAD]
    assert report.before[pad].max() == 0.0 and report.after[pad].mean() > 0.3
    assert "padding" in report.verdicts[0]


def test_shuffled_word_order_is_flagged_but_milder(minilm_records):
    ref = _profile(minilm_records["normal"][:32])
    shuffled = drift(ref, _profile(minilm_records["shuffled"]))
    padded = drift(ref, _profile(minilm_records["padded"]))
    assert shuffled.drifted
    assert 0 < shuffled.flagged.sum() < padded.flagged.sum() / 4
    assert not shuffled.flagged[shuffled.statistics.index("padding_share")].any()


def test_another_alphabet_moves_most_heads(minilm_records):
    report = drift(_profile(minilm_records["normal"][:32]), _profile(minilm_records["greek"]))
    assert len(report.heads()) > 0.5 * 6 * 12
    entropy = report.statistics.index("entropy")
    assert report.flagged[entropy, 0].all()  # layer 0 spreads over the many word pieces


def test_two_samples_of_one_distribution_stay_quiet(minilm_records):
    records = minilm_records["normal"]
    rng = np.random.default_rng(0)
    alarms = []
    for _ in range(20):
        order = rng.permutation(len(records))
        a, b = ([records[i] for i in order[:32]], [records[i] for i in order[32:]])
        alarms.append(drift(_profile(a), _profile(b)).drifted)
    assert np.mean(alarms) <= 0.1  # family-wise level 0.01 per split; measured 0 of 20


def test_the_induction_phase_change_is_flagged():
    from multiattn.zoo._text import induction_checkpoints, induction_prompt

    _, tok = multiattn.zoo.load("induction")
    models = induction_checkpoints()
    prompts = [induction_prompt(10, seed=s) for s in range(24)]
    before = multiattn.profile(models[2000], prompts, processor=tok, scheduler=None)
    after = multiattn.profile(models[4000], prompts, processor=tok, scheduler=None)
    later = multiattn.profile(models[4000], [induction_prompt(10, seed=s) for s in range(100, 124)],
                              processor=tok, scheduler=None)
    report = drift(before, after)
    entropy = report.statistics.index("entropy")
    assert report.flagged[entropy].all()  # every head sharpens after the phase change
    assert (report.after[entropy] < report.before[entropy]).all()
    assert all("entropy dropped" in v or "dropped" in v or "rose" in v for v in report.verdicts)
    assert not drift(later, after).drifted  # same checkpoint, new prompts: quiet


def test_drift_cli_writes_heatmap_distributions_and_json(tmp_path, minilm_records):
    from multiattn.cli import main

    _profile(minilm_records["normal"][:32]).save(tmp_path / "ref.npz")
    _profile(minilm_records["padded"]).save(tmp_path / "new.npz")
    assert main(["drift", str(tmp_path / "ref.npz"), str(tmp_path / "new.npz"), "--out",
                 str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert report["drifted"] and report["verdicts"] and report["flagged"][0]["ks"] >= 0.3
    for name in ("drift_heatmap.png", "drift_distributions.png"):
        assert (tmp_path / "out" / name).stat().st_size > 5000


def test_a_window_of_monitored_requests_against_a_reference(tmp_path, minilm_records):
    from multiattn._store import open_store

    store = open_store(tmp_path / "live.duckdb")
    store.append(minilm_records["padded"])
    report = drift(_profile(minilm_records["normal"][:32]), store, where="ts > now() - INTERVAL 1 DAY")
    assert report.n_new == len(minilm_records["padded"]) and report.drifted


def test_psi_known_answers():
    """PSI from the sketches against the formula: point masses on either side, a 1-sd normal shift."""
    from datasketches import kll_floats_sketch
    from scipy.stats import norm

    from multiattn.drift import _psi

    def sketch(values):
        out = kll_floats_sketch(200)
        out.update(np.asarray(values, np.float32))
        return out

    eps = 1e-4
    apart = 2 * (1 - eps) * np.log(1 / eps)  # all mass moves from one bin to another (clipped at eps)
    assert _psi(sketch(np.zeros(100)), sketch(np.full(100, 0.87))) == pytest.approx(apart)  # a share always 0
    assert _psi(sketch(np.ones(100)), sketch(np.full(100, 0.5))) == pytest.approx(apart)
    assert _psi(sketch(np.zeros(100)), sketch(np.zeros(50))) == 0.0
    rng = np.random.default_rng(0)
    edges = norm.ppf(np.linspace(0.1, 0.9, 9))
    q = np.diff(np.concatenate([[0.0], norm.cdf(edges - 1.0), [1.0]]))
    expected = float(np.sum((q - 0.1) * np.log(q / 0.1)))
    got = _psi(sketch(rng.normal(size=20000)), sketch(rng.normal(1.0, 1.0, size=20000)))
    # KLL compacts at random (unseeded): 40 repeats of this case gave 0.88-1.04 around 0.93, its
    # ~1.3 % rank error per decile edge moving the PSI by up to ~0.15; a null pair gives < 0.005.
    assert got == pytest.approx(expected, abs=0.2)
    assert _psi(sketch(rng.normal(size=20000)), sketch(rng.normal(size=20000))) < 0.05


def test_ks_p_value_is_the_exact_two_sample_one():
    """The p-value that decides a flag equals scipy's exact two-sample KS test (the asymptotic one
    used before said 1.4e-5 where the exact value is 2.3e-5 at 48 vs 48)."""
    from scipy.stats import ks_2samp

    from multiattn.drift import _ks_sf

    rng = np.random.default_rng(3)
    for n, m in [(48, 48), (10, 17), (30, 5), (120, 90)]:
        for shift in (0.0, 0.7, 1.5):
            test = ks_2samp(rng.normal(size=n), rng.normal(shift, size=m), method="exact")
            assert _ks_sf(test.statistic, n, m) == pytest.approx(test.pvalue, rel=1e-9, abs=1e-300)
