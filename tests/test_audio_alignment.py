"""Word timings, DTW, alignment metrics, pause snapping and SRT (numpy only, no model)."""

import itertools

import numpy as np
import pytest

from multiattn import AttentionGrid, TimeAxis, TokenAxis
from multiattn.analysis._energy import PAUSE_S
from multiattn.analysis.alignment import (
    alignment_matrix,
    alignment_metrics,
    dtw,
    snap_to_energy,
    word_error_rate,
    word_timings,
    words_to_srt,
)


def _brute_force_min_cost(x):
    """Minimum path cost over every monotone path from (0, 0) to (N-1, M-1)."""
    n, m = x.shape
    best = np.inf
    # a path is a sequence of moves; enumerate all sequences of right/down/diagonal moves
    for n_diag in range(min(n, m)):
        downs, rights = n - 1 - n_diag, m - 1 - n_diag
        moves = ["d"] * n_diag + ["v"] * downs + ["h"] * rights
        for order in set(itertools.permutations(moves)):
            i = j = 0
            cost = x[0, 0]
            for step in order:
                i += step in "dv"
                j += step in "dh"
                cost += x[i, j]
            best = min(best, cost)
    return best


@pytest.mark.parametrize("shape", [(2, 3), (3, 4), (4, 4), (3, 6)])
def test_dtw_matches_brute_force(rng, shape):
    for _ in range(5):
        x = rng.normal(size=shape)
        rows, cols = dtw(x)
        assert rows[0] == 0 and cols[0] == 0
        assert rows[-1] == shape[0] - 1 and cols[-1] == shape[1] - 1
        steps = np.stack([np.diff(rows), np.diff(cols)], 1)
        assert set(map(tuple, steps)) <= {(1, 1), (1, 0), (0, 1)}
        assert x[rows, cols].sum() == pytest.approx(_brute_force_min_cost(x))


def test_dtw_hand_case_and_errors():
    rows, cols = dtw(np.array([[0.0, 5.0, 5.0], [5.0, 0.0, 0.0]]))
    assert rows.tolist() == [0, 1, 1] and cols.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="non-empty 2-D"):
        dtw(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        dtw(np.array([[0.0, np.nan]]))


# tokens: SOT, NOTS, " hel", "lo", " world", ".", EOT   (two words, a trailing full stop)
_LABELS = ["<|startoftranscript|>", "<|notimestamps|>", " hel", "lo", " world", ".", "<|endoftext|>"]
_SPECIAL = [True, True, False, False, False, False, True]


def _synthetic_cross(peaks, n_frames=100, n_heads=2, width=3):
    """Cross-attention whose row ``r`` (predicting token ``r + 1``) peaks at ``peaks[r]``."""
    values = np.full((2, n_heads, len(_LABELS), n_frames), 1e-3)
    for row, frame in enumerate(peaks):
        values[:, :, row, max(0, frame - width) : frame + width + 1] = 1.0
    values /= values.sum(-1, keepdims=True)
    axis = TokenAxis(_LABELS, special_mask=_SPECIAL)
    return AttentionGrid(values.astype(np.float32), axis, TimeAxis(n_frames, 0.02), kind="cross",
                         meta={"alignment_heads": [[1, 0], [1, 1]]})


def test_word_timings_on_known_alignment():
    # rows 1..5 predict " hel", "lo", " world", ".", EOT; row 0 and the EOT row are unused
    cross = _synthetic_cross([0, 10, 20, 50, 70, 90, 95])
    words = word_timings(cross, medfilt_width=1, token_probs=[None, 0.5, 0.9, 0.7, 0.6, 0.4, 0.8])
    assert [w["word"] for w in words] == ["hello", "world."]
    # the path enters each row where its peak begins (z-scores are 0 between the peaks):
    # " hel" at frame 0, " world" at 50 - 3; "." has no time of its own, so "world." ends
    # where the row predicting "." is entered (70 - 3)
    assert words[0]["start"] == 0.0
    assert words[0]["end"] == pytest.approx(47 * 0.02) and words[1]["start"] == words[0]["end"]
    assert words[1]["end"] == pytest.approx(67 * 0.02)
    assert words[0]["tokens"] == [2, 3] and words[1]["tokens"] == [4, 5]
    assert words[0]["confidence"] == pytest.approx((0.9 + 0.7) / 2)


def test_word_timings_confidence_from_path_and_errors():
    cross = _synthetic_cross([0, 10, 20, 50, 70, 90, 95])
    words = word_timings(cross.__class__(cross.values, cross.query, cross.key, kind="cross",
                                         check_rows=False))
    assert all(0 < w["confidence"] < 1 for w in words)  # default heads: last half of layers
    with pytest.raises(ValueError, match="token_probs has 3 entries"):
        word_timings(cross, token_probs=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="outside the grid"):
        word_timings(cross, heads=[(5, 0)])
    with pytest.raises(ValueError, match="odd"):
        alignment_matrix(cross, medfilt_width=4)
    with pytest.raises(TypeError, match="AttentionGrid"):
        word_timings(np.zeros((1, 1, 7, 10)))
    self_grid = AttentionGrid(np.full((1, 1, 7, 7), 1 / 7, np.float32),
                              TokenAxis(_LABELS, special_mask=_SPECIAL))
    with pytest.raises(ValueError, match="TimeAxis key"):
        word_timings(self_grid)


def test_alignment_matrix_is_zscored_over_tokens():
    cross = _synthetic_cross([0, 10, 20, 50, 70, 90, 95])
    matrix = alignment_matrix(cross, medfilt_width=1, rows=slice(1, 6))
    assert matrix.shape == (5, 100)
    assert np.allclose(matrix.mean(axis=0), 0.0, atol=1e-9)  # mean over tokens of a z-score


def test_alignment_metrics_separate_aligning_heads():
    cross = _synthetic_cross([0, 10, 20, 50, 70, 90, 95])
    values = np.array(cross.values)
    values[0, 1] = 1.0 / values.shape[-1]  # layer 0 head 1: uniform, the unaligned head
    values[1, 1, 1:5] = values[1, 1, 1:5][::-1]  # layer 1 head 1: peaks run backwards
    grid = AttentionGrid(values, cross.query, cross.key, kind="cross", check_rows=False)
    m = alignment_metrics(grid)
    assert set(m) == {"entropy", "coverage", "monotonicity"} and m["entropy"].shape == (2, 2)
    assert m["entropy"][0, 1] == pytest.approx(1.0)
    assert m["entropy"][0, 0] < np.log(8) / np.log(100)  # ~7 of 100 frames
    assert m["monotonicity"][0, 0] == 1.0 and m["monotonicity"][1, 1] == 0.0
    # text-predicting rows 1..4 peak at 10, 20, 50, 70 -> span 61 of 100 frames
    assert m["coverage"][0, 0] == pytest.approx(61 / 100)


def test_snap_to_energy_moves_boundaries_onto_pauses():
    sr = 16000
    audio = np.r_[np.zeros(2400), np.ones(3200), np.zeros(2400), np.ones(3200), np.zeros(2400)]
    words = [{"word": "a", "start": 0.0, "end": 0.42}, {"word": "b", "start": 0.42, "end": 0.85}]
    snapped = snap_to_energy(words, audio, sr)
    assert [(w["start"], w["end"]) for w in snapped] == [(0.15, 0.35), (0.5, 0.7)]
    assert words[0]["end"] == 0.42  # input untouched
    # connected speech (no pause): boundaries stay where DTW put them
    assert snap_to_energy(words, np.ones(13600), sr) == words
    # a pause farther than search_s is ignored
    far = [{"word": "a", "start": 0.0, "end": 0.2}, {"word": "b", "start": 0.2, "end": 0.85}]
    assert snap_to_energy(far, audio, sr, search_s=0.01)[0]["end"] == 0.2
    with pytest.raises(ValueError, match="mono"):
        snap_to_energy(words, np.zeros((10, 2)), sr)


def _tone(seconds, sr=16000, freq=220.0):
    t = np.arange(int(seconds * sr)) / sr
    return 0.5 * np.sin(2 * np.pi * freq * t) * (1 + 0.3 * np.sin(2 * np.pi * 4 * t))


@pytest.mark.parametrize("closure_s", [0.02, 0.05, PAUSE_S - 0.01])
def test_snap_never_moves_a_boundary_into_a_closure_shorter_than_a_pause(closure_s):
    sr = 16000
    # one word with a silent stop closure inside it, then a real pause, then the next word
    audio = np.r_[np.zeros(4000), _tone(0.2), np.zeros(int(closure_s * sr)), _tone(0.2),
                  np.zeros(int(0.2 * sr)), _tone(0.3), np.zeros(4000)]
    closure = (0.45, 0.45 + closure_s)
    pause = (0.65 + closure_s, 0.85 + closure_s)
    words = [{"word": "a", "start": 0.2, "end": closure[1] + 0.05},  # DTW boundary near the closure
             {"word": "b", "start": closure[1] + 0.05, "end": 1.4}]
    snapped = snap_to_energy(words, audio, sr)
    edges = [t for w in snapped for t in (w["start"], w["end"])]
    inside = [t for t in edges if closure[0] - 0.005 < t < closure[1] + 0.005]
    assert not inside, snapped
    # the real pause (0.2 s) is taken: it is within search_s of the boundary
    assert snapped[0]["end"] == pytest.approx(pause[0], abs=0.006)
    assert snapped[1]["start"] == pytest.approx(pause[1], abs=0.006)
    assert snapped[0]["start"] == pytest.approx(0.25, abs=0.006)  # leading silence


def test_snap_first_word_takes_the_leading_silence_not_a_later_gap():
    sr = 16000
    # 0.5 s silence, word, 0.15 s gap *inside the first word's DTW span*, more speech
    audio = np.r_[np.zeros(8000), _tone(0.25), np.zeros(2400), _tone(0.5), np.zeros(4000)]
    words = [{"word": "a", "start": 0.0, "end": 1.0}, {"word": "b", "start": 1.0, "end": 1.4}]
    snapped = snap_to_energy(words, audio, sr)
    assert snapped[0]["start"] == pytest.approx(0.5, abs=0.006)


def test_snap_finds_pauses_in_steady_noise(rng):
    sr = 16000
    clean = np.r_[np.zeros(4000), _tone(0.3), np.zeros(3200), _tone(0.3), np.zeros(4000)]
    noisy = clean + rng.normal(0, 0.5 * 0.35 / 10, len(clean))  # ~20 dB SNR
    words = [{"word": "a", "start": 0.0, "end": 0.7}, {"word": "b", "start": 0.7, "end": 1.3}]
    snapped = snap_to_energy(words, noisy, sr)
    assert snapped[0]["end"] == pytest.approx(0.55, abs=0.01)
    assert snapped[1]["start"] == pytest.approx(0.75, abs=0.01)


def test_words_to_srt():
    words = [{"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4} for i, w in enumerate("abcd")]
    words.append({"word": "late", "start": 3661.25, "end": 3662.0})
    srt = words_to_srt(words, max_words=3)
    blocks = srt.strip().split("\n\n")
    assert blocks[0] == "1\n00:00:00,000 --> 00:00:01,400\na b c"
    assert blocks[1] == "2\n00:00:01,500 --> 00:00:01,900\nd"
    assert blocks[2] == "3\n01:01:01,250 --> 01:01:02,000\nlate"
    with pytest.raises(ValueError, match="max_words"):
        words_to_srt(words, max_words=0)


def test_word_error_rate_hand_cases():
    assert word_error_rate("the quick brown fox", "The quick brown fox.") == 0.0
    assert word_error_rate("the quick brown fox", "a quick fox") == 0.5  # 1 sub + 1 del
    assert word_error_rate("a b", "a x b y") == 1.0  # 2 insertions
    assert word_error_rate("a b c", "") == 1.0
    with pytest.raises(ValueError, match="no words"):
        word_error_rate("...", "a")
