"""multiattn's raw word-timing recipe equals a port of openai-whisper's ``timing.py``.

The port below follows ``whisper/timing.py`` (``find_alignment``, ``dtw_cpu``/``backtrace``,
``median_filter``, ``merge_punctuations``) and ``whisper/audio.py`` (``log_mel_spectrogram``
with ``padding=N_SAMPLES``, ``pad_or_trim``) line by line, in numpy/torch, on the attention that
multiattn captured: the same forward, two post-processings, word for word.
"""

import string
from pathlib import Path

import numpy as np
import pytest
import torch

from multiattn.adapters import _whisper_decode as wd
from multiattn.adapters.whisper import capture, prepare_audio
from multiattn.analysis.alignment import dtw, word_timings
from multiattn.media import load_audio
from multiattn.zoo._whisper import whisper_tiny_en

SPEECH = Path(__file__).resolve().parents[1] / "media_samples" / "speech"
TOKENS_PER_SECOND = 50


def _whisper_dtw_cpu(x):
    """openai-whisper ``dtw_cpu`` + ``backtrace`` (the numba loops, in plain Python)."""
    n, m = x.shape
    cost = np.ones((n + 1, m + 1), dtype=np.float32) * np.inf
    trace = -np.ones((n + 1, m + 1), dtype=np.float32)
    cost[0, 0] = 0
    for j in range(1, m + 1):
        for i in range(1, n + 1):
            c0, c1, c2 = cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1]
            if c0 < c1 and c0 < c2:
                c, t = c0, 0
            elif c1 < c0 and c1 < c2:
                c, t = c1, 1
            else:
                c, t = c2, 2
            cost[i, j] = x[i - 1, j - 1] + c
            trace[i, j] = t
    i, j = trace.shape[0] - 1, trace.shape[1] - 1
    trace[0, :], trace[:, 0] = 2, 1
    result = []
    while i > 0 or j > 0:
        result.append((i - 1, j - 1))
        if trace[i, j] == 0:
            i, j = i - 1, j - 1
        elif trace[i, j] == 1:
            i -= 1
        else:
            j -= 1
    return np.array(result)[::-1, :].T


def _whisper_median_filter(x, width):
    pad = width // 2
    if x.shape[-1] <= pad:
        return x
    x = torch.nn.functional.pad(x[None], (pad, pad, 0, 0), mode="reflect")[0]
    return x.unfold(-1, width, 1).sort()[0][..., pad]


def _split_to_word_tokens(tokenizer, tokens, eot):
    """``Tokenizer.split_tokens_on_spaces`` (over ``split_tokens_on_unicode``)."""
    subwords, groups, current = [], [], []
    for token in tokens:
        current.append(token)
        decoded = tokenizer.decode(current, skip_special_tokens=False)
        if "\ufffd" not in decoded:
            subwords.append(decoded)
            groups.append(current)
            current = []
    words, word_tokens = [], []
    for subword, group in zip(subwords, groups):
        special = group[0] >= eot
        if special or subword.startswith(" ") or subword.strip() in string.punctuation or not words:
            words.append(subword)
            word_tokens.append(list(group))
        else:
            words[-1] += subword
            word_tokens[-1].extend(group)
    return words, word_tokens


def _whisper_find_alignment(probs, tokenizer, text_tokens, eot, num_frames, medfilt_width=7):
    """``find_alignment`` from the cross-attention of the alignment heads ``(heads, tokens, 1500)``.

    Whisper hooks the pre-softmax scores; the log of the softmax differs from them by a
    constant per row, so the softmax over the first ``num_frames // 2`` frames is the same.
    """
    weights = torch.log(torch.as_tensor(probs, dtype=torch.float32))
    weights = weights[:, :, : num_frames // 2].softmax(dim=-1)
    std, mean = torch.std_mean(weights, dim=-2, keepdim=True, unbiased=False)
    weights = (weights - mean) / std
    weights = _whisper_median_filter(weights, medfilt_width)
    matrix = weights.mean(axis=0)
    matrix = matrix[1:-1]  # len(tokenizer.sot_sequence) == 1 for English-only models
    text_indices, time_indices = _whisper_dtw_cpu(-matrix.double().numpy())
    words, word_tokens = _split_to_word_tokens(tokenizer, text_tokens + [eot], eot)
    word_boundaries = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] / TOKENS_PER_SECOND
    timings = [{"word": w, "start": float(s), "end": float(e)} for w, s, e in
               zip(words, jump_times[word_boundaries[:-1]], jump_times[word_boundaries[1:]])]
    # merge_punctuations (appended marks; the times of the word they join stay)
    out = []
    for timing in timings:
        if out and timing["word"] in "\"'.。,，!！?？:：”)]}、" and not out[-1]["word"].endswith(" "):
            out[-1]["word"] += timing["word"]
        else:
            out.append(timing)
    return [{**t, "word": t["word"].strip()} for t in out]


def _whisper_log_mel(audio, processor):
    """``log_mel_spectrogram(audio, padding=N_SAMPLES)`` then ``pad_or_trim`` of the first window."""
    import librosa

    padded = torch.nn.functional.pad(torch.as_tensor(audio, dtype=torch.float32), (0, wd.WINDOW))
    stft = torch.stft(padded, 400, 160, window=torch.hann_window(400), return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2
    filters = torch.as_tensor(librosa.filters.mel(sr=16000, n_fft=400, n_mels=80), dtype=torch.float32)
    log_spec = torch.clamp(filters @ magnitudes, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    mel = (log_spec + 4.0) / 4.0
    content = mel.shape[-1] - wd.N_MEL_FRAMES
    segment = mel[:, : min(content, wd.N_MEL_FRAMES)]
    return torch.nn.functional.pad(segment, (0, wd.N_MEL_FRAMES - segment.shape[-1]))


@pytest.fixture(scope="module")
def whisper():
    return whisper_tiny_en()


def test_window_features_pad_the_spectrogram_as_whisper_does(whisper):
    audio, sr = load_audio(SPEECH / "s2.wav")
    mono, _ = prepare_audio(audio, sr)
    ours = wd.window_features(whisper[1], mono)
    assert len(ours) == 1 and ours[0].shape == (1, 80, 3000)
    reference = _whisper_log_mel(mono, whisper[1])
    assert torch.allclose(ours[0][0], reference, atol=2e-4)
    content = len(mono) // wd.HOP
    assert not ours[0][0, :, content:].any()  # zeros in the log-mel domain, as pad_or_trim pads
    # Hugging Face pads the waveform instead: the padding frames differ
    hf = wd.features(whisper[1], mono)[0]
    assert hf[:, content + 5 :].abs().min() > 0.1


def test_window_features_of_long_audio_split_at_30_s(whisper):
    mono = np.random.default_rng(0).normal(0, 0.1, 16000 * 41).astype(np.float32)
    feats = wd.window_features(whisper[1], mono)
    assert [tuple(f.shape) for f in feats] == [(1, 80, 3000)] * 2
    assert not feats[1][0, :, 1100:].any() and feats[1][0, :, :1100].abs().min() > 0  # 11 s content


@pytest.mark.parametrize("name", ["s1.wav", "s3.wav", "s5.wav"])
def test_raw_recipe_equals_whisper_port_word_for_word(whisper, name):
    import json

    model, processor = whisper
    truth = next(t for t in json.loads((SPEECH / "ground_truth.json").read_text()) if t["file"] == name)
    audio, sr = load_audio(SPEECH / name)
    mono, _ = prepare_audio(audio, sr)
    mono = mono[: len(mono) // 320 * 320]  # whole 20 ms frames: multiattn's crop == Whisper's num_frames // 2
    cross = capture(model, (mono, 16000), processor=processor, text=truth["text"],
                    keep_encoder=False)["cross"]
    ours = word_timings(cross)
    heads = model.generation_config.alignment_heads
    probs = np.stack([cross.values[layer, head] for layer, head in heads])
    eot = model.generation_config.eos_token_id
    text_tokens = wd.text_tokens(processor.tokenizer, truth["text"])
    port = _whisper_find_alignment(probs, processor.tokenizer, text_tokens, eot, num_frames=len(mono) // 160)
    assert [w["word"] for w in ours] == [w["word"] for w in port]
    assert [(w["start"], w["end"]) for w in ours] == [(round(w["start"], 3), round(w["end"], 3))
                                                      for w in port]


def test_dtw_matches_whisper_dtw_cpu_without_ties(rng):
    for shape in [(1, 1), (1, 7), (6, 1), (5, 40), (30, 200)]:
        x = rng.normal(size=shape)
        rows, cols = dtw(x)
        ref_rows, ref_cols = _whisper_dtw_cpu(x)
        assert rows.tolist() == ref_rows.tolist() and cols.tolist() == ref_cols.tolist()


def test_ctranslate2_decodes_what_the_transformers_loop_decodes(whisper):
    """The default weights decode with CTranslate2 (their engine); same tokens as the HF loop."""
    pytest.importorskip("ctranslate2")
    model, processor = whisper
    audio, sr = load_audio(SPEECH / "s3.wav")
    mono, _ = prepare_audio(audio, sr)
    mels = wd.window_features(processor, mono)
    engine = wd.ct2_engine(model)
    assert engine is not None
    ct2_tokens = wd.decode_ct2(engine, model, mels, wd.MAX_NEW_TOKENS, beam_size=1)
    hf_tokens = wd.greedy(model, wd.encode(model, mels[0], attentions=False), wd.MAX_NEW_TOKENS)
    assert ct2_tokens == [hf_tokens]
    # capture without text uses them; the attention still comes from the Hugging Face forward
    grids = capture(model, (mono, 16000), processor=processor, keep_encoder=False, beam_size=1)
    assert grids.meta["text"].strip() == processor.tokenizer.decode(hf_tokens).strip()
    assert grids["cross"].values.any()
