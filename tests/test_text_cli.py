"""``multiattn text``: files written, metrics.json contents, user errors."""

import json

import numpy as np
import pytest
from PIL import Image

from multiattn.cli import main
from multiattn.zoo._text import induction_dir

SENTENCE = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def minilm_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("text_cli")
    assert main(["text", SENTENCE, "--out", str(out)]) == 0
    return out


def test_writes_pictures_and_metrics(minilm_run):
    for name in ("heatmap.png", "lines.png", "model_view.png", "summary.png"):
        image = np.asarray(Image.open(minilm_run / name).convert("L"))
        assert image.shape[0] > 200 and image.shape[1] > 200
        assert image.std() > 10  # something was drawn
    assert (minilm_run / "metrics.json").exists()


def test_metrics_json_has_head_types_special_share_and_diagnostics(minilm_run):
    report = json.loads((minilm_run / "metrics.json").read_text())
    assert report["query_tokens"][0] == "[CLS]" and report["query_tokens"][-1] == "[SEP]"
    prev = next(r for r in report["head_types"] if (r["layer"], r["head"]) == (0, 2))
    assert prev["type"] == "previous_token" and prev["score"] > 0.9
    share = report["special_share_by_layer"]
    assert set(share) == {"[CLS]", "[SEP]"}
    assert all(len(v) == 6 and all(0 <= x <= 1 for x in v) for v in share.values())
    entropy = np.array(report["per_head"]["entropy_normalized"])
    assert entropy.shape == (6, 12) and entropy[0, 2] < 0.1  # the previous-token head is near one-hot
    assert {d["check"] for d in report["diagnostics"]} >= {"collapse", "uniform", "redundant"}
    assert len(report["head_diversity_by_layer"]) == 6


def test_local_hugging_face_folder_as_model(tmp_path):
    assert main(["text", "cat dog owl cat dog owl", "--model", str(induction_dir()), "--out", str(tmp_path),
                 "--layer", "1", "--head", "0"]) == 0
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["query_tokens"] == ["<bos>", "cat", "dog", "owl", "cat", "dog", "owl"]
    assert report["special_share_by_layer"].keys() == {"<bos>"}


@pytest.mark.parametrize("argv, message", [
    (["text", "hello", "--model", "/no/such/folder"], "neither 'minilm'"),
    (["text", "  "], "text is empty"),
    (["text", "hello", "--layer", "9"], "outside the model's 6 layers x 12 heads"),
])
def test_user_errors_exit_2_with_a_message(argv, message, tmp_path, capsys):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_pictures_are_drawn_with_the_model_frozen_out_of_the_collector(tmp_path, monkeypatch):
    import gc

    from multiattn.renderers import writers

    frozen = []

    def record(grids, out, **kwargs):  # the writer itself is tested above; here: what it runs under
        frozen.append(gc.get_freeze_count())
        return []

    monkeypatch.setattr(writers, "write_text_report", record)
    assert main(["text", SENTENCE, "--out", str(tmp_path)]) == 0
    assert frozen[0] > 10_000 and gc.get_freeze_count() == 0  # torch + model frozen, then released
