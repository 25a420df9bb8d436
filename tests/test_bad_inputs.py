"""Bad or unusual inputs get one line from the package or the right result (issue 18 cases).

Every CLI case asserts exit status 2, a single stderr line, and no traceback.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from multiattn import AttentionGrid, TokenAxis  # noqa: E402
from multiattn.adapters.graph import from_networkx, read_graph  # noqa: E402
from multiattn.adapters.whisper import prepare_audio  # noqa: E402
from multiattn.cli import main  # noqa: E402
from multiattn.renderers.html import to_html  # noqa: E402


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    ours = [line for line in err.splitlines() if line.startswith("multiattn ")]  # not library progress bars
    assert len(ours) == 1 and ours[0].startswith(f"multiattn {command}: error: "), err
    return ours[0]


def test_csv_header_is_not_an_edge_and_its_columns_are_attributes(tmp_path, capsys):
    path = tmp_path / "edges.csv"
    path.write_text("source,target,attention\na,b,0.7\nc,b,0.3\nb,a,1.0\nb,c,1.0\n")
    graph = read_graph(path, directed=True)
    assert sorted(graph.nodes) == ["a", "b", "c"]  # no node called "source"
    assert graph.edges["a", "b"]["attention"] == pytest.approx(0.7)
    out = tmp_path / "g.png"
    assert main(["graph", str(path), "--directed", "--weight", "attention", "--out", str(out)]) == 0
    assert out.stat().st_size > 0


def test_networkx_written_edge_lists_keep_their_data(tmp_path):
    graph = nx.Graph()
    graph.add_edge("x", "y", attention=0.25)
    nx.write_edgelist(graph, tmp_path / "g.edgelist")
    assert read_graph(tmp_path / "g.edgelist").edges["x", "y"]["attention"] == 0.25


def test_negative_edge_weights_are_not_drawn_as_attention():
    graph = nx.DiGraph()
    graph.add_edge(0, 1, attention=-0.3)
    with pytest.raises(ValueError, match=r"has 'attention' = -0\.3: attention weights are finite"):
        from_networkx(graph)


def test_out_that_is_a_folder_or_has_no_picture_suffix(tmp_path, capsys):
    edges = tmp_path / "e.txt"
    edges.write_text("0 1\n1 2\n2 0\n")
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(["graph", str(edges), "--out", str(folder)]) == 2
    assert "is a folder; give a file name inside it" in _one_line_error(capsys, "graph")
    assert not (tmp_path / "out.png").exists()
    assert main(["graph", str(edges), "--out", str(tmp_path / "picture.xyz")]) == 2
    assert ".png" in _one_line_error(capsys, "graph")


def test_text_of_control_characters_is_refused(capsys):
    from multiattn import load_model

    model, tokenizer = load_model("minilm")
    with pytest.raises(ValueError, match="only control characters"):
        from multiattn import capture

        capture(model, "\x00", processor=tokenizer)
    assert main(["text", "\x00\x01", "--out", "unused"]) == 2
    assert "only control characters" in _one_line_error(capsys, "text")


def test_phase_inverted_stereo_is_not_silence():
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    mono, _ = prepare_audio(np.stack([tone, -tone], axis=1), 16000)
    np.testing.assert_allclose(mono, tone, atol=1e-6)


def test_empty_grid_in_the_html_view():
    empty = AttentionGrid(np.zeros((1, 1, 0, 0), np.float32), TokenAxis([]))
    with pytest.raises(ValueError, match=r"the grid is empty \(shape \(1, 1, 0, 0\)\)"):
        to_html(empty)


def test_binary_corpus_file_is_named_before_the_model_loads(tmp_path, capsys):
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"\xff\xfe\x00\x81binary")
    assert main(["corpus", str(path), "--out", str(tmp_path / "s.csv")]) == 2
    err = _one_line_error(capsys, "corpus")
    assert "corpus.txt is not UTF-8 text" in err


def test_an_unexpected_error_is_a_short_bug_report_and_debug_shows_the_traceback(monkeypatch, capsys):
    from multiattn._commands import analyze

    def broken(args):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(analyze, "run", broken)
    assert main(["analyze", "x.npz", "--out", "o"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error (RuntimeError: something inside broke)" in err
    assert "--debug" in err and "Traceback" not in err
    with pytest.raises(RuntimeError, match="something inside broke"):
        main(["--debug", "analyze", "x.npz", "--out", "o"])


def test_long_audio_skips_the_encoder_grid_instead_of_refusing(monkeypatch):
    from types import SimpleNamespace

    from multiattn import _memory
    from multiattn.adapters import whisper

    model = SimpleNamespace(config=SimpleNamespace(encoder_layers=4, encoder_attention_heads=6))
    monkeypatch.setattr(_memory, "available_bytes", lambda: 2 * 1024**3)  # a 2 GiB machine
    assert whisper._encoder_fits(model, 30 * 16000)          # 30 s: 24 heads x 1500^2 x 4 B = 0.2 GB
    assert not whisper._encoder_fits(model, 210 * 16000)     # 3.5 min: 10.6 GB, so skipped with a note


def test_a_one_frame_video_is_read(tmp_path):
    from multiattn.media import read_video
    from multiattn.renderers._video_encode import write_mp4

    ramp = np.linspace(0, 255, 64, dtype=np.uint8)  # smooth content: H.264 keeps it close
    frame = np.stack([np.broadcast_to(ramp, (64, 64)), np.broadcast_to(ramp[:, None], (64, 64)),
                      np.full((64, 64), 128, np.uint8)], axis=-1)[None]
    clip = read_video(write_mp4(frame, tmp_path / "one.mp4", fps=8))
    assert clip.frames.shape == (1, 64, 64, 3) and clip.fps == 8
    assert np.abs(clip.frames.astype(int) - frame.astype(int)).mean() < 6  # lossy H.264
    assert read_video(tmp_path / "one.mp4", num_frames=4).frames.shape == (4, 64, 64, 3)  # repeated


def test_non_ascii_transcript_words_stay_whole():
    from multiattn import TimeAxis
    from multiattn.adapters._whisper_decode import token_axis
    from multiattn.analysis import word_timings
    from multiattn.zoo._whisper import whisper_processor

    tokenizer = whisper_processor().tokenizer
    sot, eot = tokenizer.convert_tokens_to_ids("<|startoftranscript|>"), tokenizer.eos_token_id
    ids = [sot, *tokenizer(" the café résumé 日本", add_special_tokens=False).input_ids, eot]
    axis, text = token_axis(tokenizer, ids, eot)
    assert text == " the café résumé 日本" and "\ufffd" not in "".join(axis.labels)
    frames = 40
    values = np.zeros((1, 1, len(ids), frames), np.float32)
    for row in range(len(ids)):  # a monotonic alignment: token i looks at frames around 3 i
        values[0, 0, row, min(3 * row, frames - 1)] = 1.0
    cross = AttentionGrid(values, axis, TimeAxis(frames, 0.02), kind="cross",
                          meta={"alignment_heads": [[0, 0]]})
    assert [w["word"] for w in word_timings(cross)] == ["the", "café", "résumé", "日本"]


def test_a_transcript_that_does_not_fit_the_audio_is_reported():
    import json

    from multiattn import load_model, media_samples
    from multiattn.adapters.whisper import align

    model, processor = load_model("whisper-tiny.en")
    truth = json.loads(media_samples.path("speech", "ground_truth.json").read_text())[1]
    wav = media_samples.path("speech", truth["file"])
    assert align(model, wav, processor=processor, text=truth["text"])["notes"] == []
    with pytest.warns(UserWarning, match="the transcript does not fit the audio"):
        long = align(model, wav, processor=processor, text=" ".join([truth["text"]] * 4))
    assert len(long["notes"]) == 1 and "words/s" in long["notes"][0]


def test_alignment_warnings_are_written_into_words_json(tmp_path):
    import json

    from multiattn.renderers.writers import write_audio_report

    note = "the transcript does not fit the audio: 41.0 words/s"
    write_audio_report({"grids": {}, "words": [], "audio": np.zeros(160), "notes": [note]}, tmp_path)
    document = json.loads((tmp_path / "words.json").read_text())
    assert document["notes"] == [note] and document["words"] == []
