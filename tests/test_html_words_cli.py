"""``multiattn html --words words.json``: the audio view gets the word timings ``multiattn audio`` wrote."""

import json

import pytest

from multiattn.cli import main

from .test_html_media import LABELS, WORDS, _audio_grid, _tone
from .test_html_view import _payload


@pytest.fixture()
def saved(tmp_path, rng):
    _audio_grid(rng).save(tmp_path / "g.npz")
    import soundfile

    soundfile.write(tmp_path / "a.wav", _tone(1.0), 16_000)
    return tmp_path


@pytest.mark.parametrize("document", [
    {"format": "multiattn.words", "version": 1, "words": WORDS, "notes": []},  # what multiattn audio writes
    WORDS,  # a bare list
])
def test_words_file_reaches_the_audio_view(saved, capsys, document):
    (saved / "words.json").write_text(json.dumps(document))
    assert main(["html", str(saved / "g.npz"), "--audio", str(saved / "a.wav"),
                 "--words", str(saved / "words.json"), "--out", str(saved / "v.html")]) == 0
    data = _payload((saved / "v.html").read_text())
    assert data["words"] == WORDS and data["query"] == LABELS
    assert data["token_word"] == [-1, 0, 0, 1, -1]  # the tokens that spell each word


@pytest.mark.parametrize(("content", "problem"), [
    ("{not json", "is not JSON"),
    (json.dumps({"format": "multiattn.words", "version": 9, "words": []}), "version 9"),
    (json.dumps({"words": "hello"}), "holds no word list"),
    (json.dumps([{"word": "a", "start": 0.5, "end": 0.1}]), "start <= end"),
])
def test_a_bad_words_file_is_one_line_naming_it(saved, capsys, content, problem):
    (saved / "words.json").write_text(content)
    out = saved / "v.html"
    assert main(["html", str(saved / "g.npz"), "--words", str(saved / "words.json"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert problem in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_words_of_a_missing_file_are_refused(saved, capsys):
    assert main(["html", str(saved / "g.npz"), "--words", str(saved / "nope.json"),
                 "--out", str(saved / "v.html")]) == 2
    assert "words file" in capsys.readouterr().err
