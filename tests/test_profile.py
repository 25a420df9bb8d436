"""Mergeable profiles: merging equals one pass; a 2-worker LocalCluster equals the in-process profile."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("datasketches")

from multiattn._corpus_io import read_corpus  # noqa: E402
from multiattn._summary import Profile  # noqa: E402

_NOUNS = ["cat", "dog", "bird", "child", "train", "boat", "wind", "rain"] * 2
_VERBS = ["slept", "ran", "sang", "laughed", "stopped", "sank", "blew", "fell"] * 2
SENTENCES = [f"Sentence {i} says the {w} {v} near the old bridge."
             for i, (w, v) in enumerate(zip(_NOUNS, _VERBS))]


def _exact_rank_ok(values: np.ndarray, quantile: float, q: float, eps: float) -> bool:
    """``quantile`` is within ``eps`` normalised rank of the ``q`` quantile of ``values``."""
    lo, hi = np.mean(values < quantile), np.mean(values <= quantile)
    return lo - eps <= q <= hi + eps


def test_merged_parts_equal_one_pass(rng):
    values = rng.gamma(2.0, size=(3000, 2, 3, 4))
    values[::17, 0, 1, 2] = np.nan  # undefined on some requests: left out of that cell only
    whole = Profile.empty(("a", "b"), ("l0", "l1", "l2"), 4)
    whole.add(values)
    parts = []
    for chunk in np.array_split(values, [700, 1900]):
        part = Profile.empty(("a", "b"), ("l0", "l1", "l2"), 4)
        part.add(chunk)
        parts.append(part)
    merged = parts[0].merge(parts[1]).merge(parts[2])
    np.testing.assert_array_equal(merged.count, whole.count)
    assert merged.count[0, 1, 2] == 3000 - len(values[::17])
    np.testing.assert_allclose(merged.mean, np.nanmean(values, 0), rtol=1e-12)
    np.testing.assert_allclose(merged.variance, np.nanvar(values, 0, ddof=1), rtol=1e-10)
    eps = merged.rank_error()
    for q in (0.05, 0.5, 0.95):
        got = merged.quantile(q)
        for idx in np.ndindex(got.shape):
            column = values[(slice(None), *idx)]
            assert _exact_rank_ok(column[np.isfinite(column)], got[idx], q, eps), (q, idx)


def test_profile_file_round_trip_has_no_pickle(tmp_path, rng):
    prof = Profile.empty(("entropy",), ("l0",), 2, model_id="m")
    prof.add(rng.random((50, 1, 1, 2)))
    path = prof.save(tmp_path / "p.npz")
    with np.load(path, allow_pickle=False) as f:
        assert json.loads(str(f["meta"]))["format"] == "multiattn-profile/1"
    back = Profile.load(path)
    np.testing.assert_array_equal(back.mean, prof.mean)
    np.testing.assert_array_equal(back.quantile(0.5), prof.quantile(0.5))
    assert back.n_inputs == 50 and back.model_id == "m"


def test_local_cluster_with_two_workers_equals_the_in_process_profile(one_torch_thread):
    pytest.importorskip("distributed")
    import dask

    from multiattn.profile import _local_cluster, profile

    here = profile("minilm", SENTENCES, scheduler=None, batch_size=1)
    with _local_cluster(2) as client:  # the cluster scheduler="local" starts (the CLI test runs that path)
        settings = client.run(lambda: (dask.config.get("distributed.worker.profile.enabled"),
                                       dask.config.get("distributed.admin.tick.interval")))
        there = profile("minilm", SENTENCES, scheduler=client, partitions=4, batch_size=1, progress=False)
    assert list(settings.values()) == [(False, "500ms")] * 2  # lean settings reached both workers
    assert dask.config.get("distributed.worker.profile.enabled")  # and did not stay in this process
    np.testing.assert_array_equal(there.count, here.count)
    assert there.n_inputs == here.n_inputs == len(SENTENCES)
    # the same float32 forwards in other processes: equal up to the model's float32 rounding
    np.testing.assert_allclose(there.mean, here.mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(there.variance, here.variance, rtol=1e-4, atol=1e-8)
    eps = here.rank_error()
    for q in (0.1, 0.5, 0.9):
        assert np.nanmax(np.abs(there.quantile(q) - here.quantile(q))) < 1e-5 + eps * np.nanmax(here.mean)


def test_length_sorted_batches_equal_one_input_at_a_time(one_torch_thread):
    """Batched, length-sorted, padded forwards give each input's statistics as its own forward does."""
    from multiattn.profile import profile

    texts = [s if i % 3 else s + " And then it was quiet again for a while." for i, s in enumerate(SENTENCES)]
    timings: list[dict] = []
    alone = profile("minilm", texts, scheduler=None, batch_size=1)
    batched = profile("minilm", texts, scheduler=None, batch_size=5, timings=timings)
    np.testing.assert_array_equal(batched.count, alone.count)
    np.testing.assert_allclose(batched.mean, alone.mean, rtol=1e-4, atol=1e-5)
    from multiattn._profile_worker import load_once

    _, tok = load_once("minilm", None)
    lengths = sorted(len(tok(t)["input_ids"]) for t in texts)
    padded = sum(len(lengths[i:i + 5]) * max(lengths[i:i + 5]) for i in range(0, len(lengths), 5))
    assert timings[0]["inputs"] == len(texts) and timings[0]["tokens"] == sum(lengths)
    assert timings[0]["padded_tokens"] == padded  # sorted batches: the hand-computed padding
    assert timings[0]["cpu_s"] > 0


def test_partitions_cover_the_corpus_longest_first():
    from multiattn.profile import _n_partitions, _partitions

    items = [f"{'x' * (i % 7)}{i}" for i in range(23)]
    parts = _partitions(items, 4)
    assert sorted(sum(parts, [])) == sorted(items) and [len(p) for p in parts] == [6, 6, 6, 5]
    assert [max(map(len, p)) for p in parts] == sorted((max(map(len, p)) for p in parts), reverse=True)
    assert _n_partitions(100, 2) == 8 and _n_partitions(10_000, 2) == 40


def test_corpus_sources(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "a.txt").write_text("one\n\n two \n", encoding="utf-8")
    assert read_corpus(tmp_path / "a.txt") == ["one", " two "]
    (tmp_path / "b.jsonl").write_text('{"text": "x"}\n{"text": "y", "id": 2}\n', encoding="utf-8")
    assert read_corpus(tmp_path / "b.jsonl", column="text") == ["x", "y"]
    pq.write_table(pa.table({"text": ["p", "q"], "n": [1, 2]}), tmp_path / "c.parquet")
    assert read_corpus(tmp_path / "c.parquet", column="text") == ["p", "q"]
    folder = tmp_path / "media"
    folder.mkdir()
    for name in ("b.png", "a.wav", "notes.txt"):
        (folder / name).write_bytes(b"")
    assert [p.rsplit("/", 1)[1] for p in read_corpus(folder)] == ["a.wav", "b.png"]
    from multiattn.errors import MultiattnValueError

    with pytest.raises(MultiattnValueError, match="column"):
        read_corpus(tmp_path / "c.parquet")
    with pytest.raises(MultiattnValueError, match="has no column 'txt'"):
        read_corpus(tmp_path / "c.parquet", column="txt")


def test_corpus_cli_writes_a_profile_on_a_local_cluster(tmp_path, capsys):
    pytest.importorskip("distributed")
    from multiattn.cli import main

    corpus = tmp_path / "s.txt"
    corpus.write_text("\n".join(SENTENCES[:6]) + "\n", encoding="utf-8")
    assert main(["corpus", str(corpus), "--profile", str(tmp_path / "p.npz"), "--workers", "1"]) == 0
    prof = Profile.load(tmp_path / "p.npz")
    assert prof.n_inputs == 6 and prof.count.max() == 6
    assert "6 inputs" in capsys.readouterr().out
