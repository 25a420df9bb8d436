"""Word timings past Whisper's recipe on connected speech built from the committed speech samples.

The samples in ``media_samples/speech`` are espeak-ng words with exact boundaries; cutting each word
out and joining them without pauses gives connected-speech audio whose truth is known exactly, here
with leading silence (the recipe puts the first word at the start of each 30 s window whatever
silence precedes it).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from multiattn.adapters.whisper import SAMPLE_RATE, align, prepare_audio
from multiattn.analysis._energy import speech_onset
from multiattn.analysis.alignment import DEFAULT_STEPS, STEPS, refine_timings
from multiattn.media import load_audio
from multiattn.zoo._whisper import whisper_tiny_en

SPEECH = Path(__file__).resolve().parents[1] / "media_samples" / "speech"


def _joined(name: str) -> tuple[np.ndarray, list[dict], str]:
    """The words of one sample cut out and joined without pauses; their truth (s) and text."""
    truth = next(t for t in json.loads((SPEECH / "ground_truth.json").read_text()) if t["file"] == name)
    audio, sr = load_audio(SPEECH / name)
    mono, _ = prepare_audio(audio, sr)
    pieces, words, t = [], [], 0.0
    for w in truth["words"]:
        piece = mono[int(w["start"] * SAMPLE_RATE) : int(w["end"] * SAMPLE_RATE)]
        pieces.append(piece)
        words.append({"word": w["word"], "start": t, "end": t + len(piece) / SAMPLE_RATE})
        t += len(piece) / SAMPLE_RATE
    return np.concatenate(pieces), words, truth["text"]


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * SAMPLE_RATE)), np.float32)


@pytest.fixture(scope="module")
def whisper():
    return whisper_tiny_en()


@pytest.mark.parametrize("name", ["s1.wav", "s4.wav"])
def test_first_word_after_half_a_second_of_silence(whisper, name):
    speech, truth, text = _joined(name)
    audio = np.r_[_silence(0.5), speech, _silence(0.3)]
    raw = align(
        whisper[0], (audio, SAMPLE_RATE), processor=whisper[1], text=text, snap=False, keep_encoder=False
    )
    assert raw["words"][0]["start"] < 0.25  # the recipe's DTW path starts at frame 0
    refined = align(whisper[0], (audio, SAMPLE_RATE), processor=whisper[1], text=text, keep_encoder=False)
    assert refined["steps"] == list(DEFAULT_STEPS)
    assert abs(refined["words"][0]["start"] - 0.5) <= 0.05
    # and in 20 dB SNR white noise
    rng = np.random.default_rng(3)
    noisy = audio + rng.normal(0, np.sqrt(np.mean(speech**2) / 100), len(audio)).astype(np.float32)
    words = align(whisper[0], (noisy, SAMPLE_RATE), processor=whisper[1], text=text, keep_encoder=False)[
        "words"
    ]
    assert abs(words[0]["start"] - 0.5) <= 0.05


def test_first_word_of_the_second_30_s_window(whisper):
    first, _, first_text = _joined("s1.wav")
    second, truth, second_text = _joined("s2.wav")
    filler = np.concatenate([first] * int(28.5 * SAMPLE_RATE // len(first)))
    lead = 30.3 - len(filler) / SAMPLE_RATE  # silence across the window edge, speech again at 30.3 s
    audio = np.r_[filler, _silence(lead), second, _silence(0.3)]
    text = " ".join([first_text] * int(28.5 * SAMPLE_RATE // len(first)) + [second_text])
    words = align(whisper[0], (audio, SAMPLE_RATE), processor=whisper[1], text=text, keep_encoder=False)[
        "words"
    ]
    after = [w for w in words if w["start"] >= 29.9]
    assert after and after[0]["word"].strip(".,").lower() == truth[0]["word"]
    assert abs(after[0]["start"] - 30.3) <= 0.05


def test_speech_onset_in_noise_and_none_in_silence():
    rng = np.random.default_rng(0)
    tone = 0.3 * np.sin(np.arange(8000) * 0.25)
    audio = np.r_[np.zeros(12000), tone, np.zeros(4000)]
    noisy = audio + rng.normal(0, 0.3 / np.sqrt(2) / 10, len(audio))  # 20 dB SNR
    assert speech_onset(noisy, 16000, 0.0, 1.5) == pytest.approx(0.75, abs=0.01)
    assert speech_onset(noisy, 16000, 0.0, 0.6) is None  # noise only in the range
    assert speech_onset(rng.normal(0, 0.01, 16000), 16000, 0.0, 1.0) is None


def test_refine_steps_are_named_and_separate():
    audio = np.r_[np.zeros(8000), np.sin(np.arange(16000) * 0.3), np.zeros(4000)]
    words = [
        {"word": "a", "start": 0.0, "end": 0.9},
        {"word": "b", "start": 0.9, "end": 1.2},
        {"word": "c", "start": 1.2, "end": 1.5},
    ]
    assert refine_timings(words, audio, 16000, steps=()) == words
    biased = refine_timings(words, audio, 16000, steps=["bias"], bias_s=0.1)
    # the first word's start and the last word's end are the onset step's, not the bias's
    assert [(w["start"], w["end"]) for w in biased] == [(0.0, 0.8), (0.8, 1.1), (1.1, 1.5)]
    onset = refine_timings(words, audio, 16000, steps=["onset"])
    assert onset[0]["start"] == pytest.approx(0.5, abs=0.005) and onset[1:] == words[1:]
    assert set(DEFAULT_STEPS) <= set(STEPS)
    with pytest.raises(ValueError, match="unknown refinement steps"):
        refine_timings(words, audio, 16000, steps=["magic"])
    with pytest.raises(ValueError, match="mono"):
        refine_timings(words, np.zeros((10, 2)), 16000)


def test_cli_steps_flag_names_the_known_steps(tmp_path, capsys):
    from multiattn.cli import main

    with pytest.raises(SystemExit) as err:
        main(["audio", str(SPEECH / "s1.wav"), "--steps", "onset,magic", "--out", str(tmp_path)])
    assert err.value.code == 2
    assert "unknown steps ['magic']" in capsys.readouterr().err
