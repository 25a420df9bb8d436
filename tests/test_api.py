"""One way in: multiattn.capture / explain / capture_stream / load_model for every modality.

Each entry point must give exactly what the modality's adapter gives (the adapters are tested
against eager references elsewhere), take the medium a user holds, and refuse bad input with
an error that says what was expected.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import multiattn
from multiattn import GridSet, analysis
from multiattn.adapters import clip as clip_adapter
from multiattn.adapters import text as text_adapter
from multiattn.adapters import vit as vit_adapter
from multiattn.stream import HeadMean

SENTENCE = "The cat sat on the mat."


def _tiny_whisper_config():
    from transformers import WhisperConfig

    return WhisperConfig(d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                         decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, num_mel_bins=8,
                         max_source_positions=25, vocab_size=60, pad_token_id=0, bos_token_id=1,
                         eos_token_id=2, decoder_start_token_id=1)


@pytest.fixture(scope="module")
def minilm():
    return multiattn.load_model("minilm")


@pytest.fixture(scope="module")
def shapes_vit():
    return multiattn.load_model("shapes-vit")


@pytest.fixture(scope="module")
def tiny_clip():
    return multiattn.load_model("tiny-clip")


def test_modality_of_each_embedded_model(minilm, shapes_vit, tiny_clip):
    assert multiattn.modality(minilm[0]) == "text"
    assert multiattn.modality(shapes_vit[0]) == "image"
    assert multiattn.modality(tiny_clip[0]) == "image-text"
    assert multiattn.modality(multiattn.load_model("karate-gat")[0]) == "graph"
    assert multiattn.modality(multiattn.load_model("moving-shapes")[0]) == "video"


def test_modality_of_random_configs():
    from transformers import BertConfig, BertModel, ViTConfig, ViTModel, WhisperModel

    small = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    assert multiattn.modality(BertModel(BertConfig(vocab_size=50, **small))) == "text"
    assert multiattn.modality(ViTModel(ViTConfig(image_size=32, patch_size=8, **small))) == "image"
    assert multiattn.modality(WhisperModel(_tiny_whisper_config())) == "audio"


def test_modality_refuses_unknown_models():
    import torch

    with pytest.raises(TypeError, match="cannot tell the modality of a Linear"):
        multiattn.modality(torch.nn.Linear(2, 2))


def test_capture_text_equals_the_adapter(minilm):
    model, tokenizer = minilm
    grid = multiattn.capture(model, SENTENCE, processor=tokenizer)
    direct = text_adapter.capture(model, SENTENCE, processor=tokenizer)
    np.testing.assert_array_equal(grid.values, direct.values)
    assert grid.query.labels == direct.query.labels and grid.layers == direct.layers


def test_capture_text_pair(minilm):
    model, tokenizer = minilm
    grid = multiattn.capture(model, ("The cat sat.", "It purred."), processor=tokenizer)
    assert grid.query.labels.count("[SEP]") == 2
    assert grid.meta["text"] == "The cat sat.\nIt purred."


def test_capture_image_equals_the_adapter(shapes_vit):
    model, processor = shapes_vit
    image = multiattn.zoo.sample("shapes-vit")
    grid = multiattn.capture(model, image, processor=processor)
    np.testing.assert_array_equal(grid.values, vit_adapter.capture(model, image, processor=processor).values)


def test_capture_image_text_is_a_gridset(tiny_clip):
    model, processor = tiny_clip
    image, captions = multiattn.zoo.sample("tiny-clip")
    grids = multiattn.capture(model, (image, captions), processor=processor)
    assert isinstance(grids, GridSet) and list(grids) == ["vision", "text.0", "text.1"]
    assert grids.group("text") == [grids["text.0"], grids["text.1"]]
    # the logits are the model's own similarity of the image with each caption
    pairs = clip_adapter.relevance(model, (image, captions), processor=processor)
    np.testing.assert_allclose(grids.meta["logits"], [p.logit for p in pairs], rtol=1e-5)


def test_explain_text_rollout_is_the_rollout_row(minilm):
    model, tokenizer = minilm
    grid = multiattn.capture(model, SENTENCE, processor=tokenizer)
    amap = multiattn.explain(model, SENTENCE, processor=tokenizer, method="rollout", target=2)
    np.testing.assert_allclose(amap.values, np.asarray(analysis.rollout(grid))[2], rtol=1e-6)
    assert amap.axis.labels == grid.key.labels and "cat" in amap.meta["values"]


def test_explain_image_equals_the_adapter(shapes_vit):
    model, processor = shapes_vit
    image = multiattn.zoo.sample("shapes-vit")
    amap = multiattn.explain(model, image, processor=processor, method="rollout")
    direct = vit_adapter.explain(model, image, processor=processor, method="rollout")
    np.testing.assert_allclose(amap.values, direct.values)


def test_explain_image_text_picks_the_best_caption_or_the_target(tiny_clip):
    model, processor = tiny_clip
    image, captions = multiattn.zoo.sample("tiny-clip")
    pairs = clip_adapter.relevance(model, (image, captions), processor=processor)
    best = max(range(len(pairs)), key=lambda i: pairs[i].logit)
    amap = multiattn.explain(model, (image, captions), processor=processor)
    np.testing.assert_allclose(amap.values, pairs[best].image_map.values)
    other = multiattn.explain(model, (image, captions), processor=processor, target=captions[1 - best])
    np.testing.assert_allclose(other.values, pairs[1 - best].image_map.values)


def test_explain_graph_row_of_the_target_node():
    model, _ = multiattn.load_model("karate-gat")
    data = multiattn.zoo.sample("karate-gat")
    grid = multiattn.capture(model, data)
    amap = multiattn.explain(model, data, target=5)
    np.testing.assert_allclose(amap.values, grid.row(5, layer=-1, head="mean").values)
    with pytest.raises(ValueError, match="target="):
        multiattn.explain(model, data)


def test_capture_stream_takes_media_and_equals_the_full_capture(minilm):
    model, tokenizer = minilm
    out = multiattn.capture_stream(model, SENTENCE, {"mean": HeadMean()}, processor=tokenizer)
    full = multiattn.capture(model, SENTENCE, processor=tokenizer)
    np.testing.assert_allclose(np.asarray(out["mean"])[:, 0], full.values.mean(axis=1),
                               rtol=1e-5, atol=1e-7)
    # processor outputs are still accepted
    batch = text_adapter.prepare(model, SENTENCE, processor=tokenizer)
    again = multiattn.capture_stream(model, batch, {"mean": HeadMean()})
    np.testing.assert_allclose(np.asarray(again["mean"]), np.asarray(out["mean"]))


def test_capture_stream_image_equals_the_full_capture(shapes_vit):
    model, processor = shapes_vit
    image = multiattn.zoo.sample("shapes-vit")
    out = multiattn.capture_stream(model, image, {"mean": HeadMean()}, processor=processor)
    full = multiattn.capture(model, image, processor=processor)
    np.testing.assert_allclose(np.asarray(out["mean"])[:, 0], full.values.mean(axis=1),
                               rtol=1e-5, atol=1e-7)


def test_capture_stream_clip_asks_which_tower(tiny_clip):
    model, processor = tiny_clip
    with pytest.raises(ValueError, match="include='vision_model'"):
        multiattn.capture_stream(model, multiattn.zoo.sample("tiny-clip"), {"m": HeadMean()},
                                 processor=processor)


def test_bad_inputs_say_what_was_expected(tiny_clip, minilm):
    import torch
    from transformers import WhisperForConditionalGeneration

    with pytest.raises(TypeError, match=r"pair \(image, captions\)"):
        multiattn.capture(tiny_clip[0], "just a caption", processor=tiny_clip[1])
    with pytest.raises(ValueError, match="needs its processor"):
        multiattn.capture(tiny_clip[0], multiattn.zoo.sample("tiny-clip"))
    with pytest.raises(TypeError, match=r"\(text, text_pair\)"):
        multiattn.capture(minilm[0], ["a", "b", "c"], processor=minilm[1])
    whisper = WhisperForConditionalGeneration(_tiny_whisper_config())
    with pytest.raises(TypeError, match="add its sample rate"):
        multiattn.capture(whisper, np.zeros(16000, np.float32), processor=SimpleNamespace(tokenizer=None))
    with pytest.raises(ValueError, match="graph models take no processor"):
        multiattn.capture(multiattn.load_model("karate-gat")[0], multiattn.zoo.sample("karate-gat"),
                          processor=torch.nn.Identity())


def test_gridset_is_read_only_and_round_trips(tmp_path, minilm):
    model, tokenizer = minilm
    grid = multiattn.capture(model, SENTENCE, processor=tokenizer)
    grids = GridSet({"encoder": grid, "rollout": analysis.rollout(grid).to_grid()}, meta={"note": "x"})
    with pytest.raises(TypeError, match="read-only"):
        grids["other"] = grid
    with pytest.raises(KeyError, match="it holds encoder, rollout"):
        _ = grids["decoder"]
    with pytest.raises(AttributeError, match="grids: encoder, rollout"):
        _ = grids.decoder
    back = multiattn.load_grids(grids.save(tmp_path / "set"))
    assert isinstance(back, GridSet) and list(back) == ["encoder", "rollout"] and back.meta == {"note": "x"}
    np.testing.assert_array_equal(back.encoder.values, grid.values)
    assert back.encoder.query.labels == grid.query.labels
    assert isinstance(multiattn.load_grids(grid.save(tmp_path / "one.npz")), multiattn.AttentionGrid)
    with pytest.raises(ValueError, match="GridSet"):
        multiattn.AttentionGrid.load(tmp_path / "set.npz")


def test_load_model_resolves_names_folders_and_refuses_the_rest(tmp_path):
    import torch
    from transformers import Dinov2Config, Dinov2Model

    with pytest.raises(ValueError, match="unknown model 'nope'.*minilm"):
        multiattn.load_model("nope")
    with pytest.raises(ValueError, match="is a text model.*not image"):
        multiattn.load_model("minilm", modality="image")
    with pytest.raises(FileNotFoundError, match="timm models need local weights"):
        multiattn.load_model("timm:vit_tiny_patch16_224")
    # a headless folder stays headless: no randomly initialised classifier is added
    torch.manual_seed(0)
    config = Dinov2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                          image_size=28, patch_size=14)
    Dinov2Model(config).save_pretrained(tmp_path / "dino")
    model, processor = multiattn.load_model(tmp_path / "dino", modality="image")
    assert type(model).__name__ == "Dinov2Model" and processor is None and not model.training
    image = np.random.default_rng(0).integers(0, 255, (28, 28, 3), dtype=np.uint8)
    first = multiattn.capture(model, image, size=28).values
    np.testing.assert_array_equal(first, multiattn.capture(model, image, size=28).values)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        multiattn.load_model(tmp_path / "empty")


def test_zoo_registry_lists_and_refuses():
    assert set(multiattn.zoo.names()) >= {"minilm", "shapes-vit", "tiny-clip", "whisper-tiny.en",
                                          "moving-shapes", "karate-gat"}
    with pytest.raises(ValueError, match="available: minilm"):
        multiattn.zoo.load("gpt-5")
    with pytest.raises(FileNotFoundError, match="speech/ holds"):
        multiattn.media_samples.path("speech", "nope.wav")


def test_files_that_are_not_grids_get_one_clear_line(tmp_path):
    import zipfile

    (tmp_path / "junk.npz").write_bytes(b"junk")
    (tmp_path / "empty.npz").write_bytes(b"")
    np.save(tmp_path / "plain.npy", np.zeros(3))
    np.savez(tmp_path / "objects.npz", values=np.array([{"a": 1}], dtype=object))
    with zipfile.ZipFile(tmp_path / "truncated.npz", "w") as archive:
        archive.writestr("values.npy", b"\x93NUMPY garbage")
    expected = {"junk.npz": "not an npz archive", "empty.npz": "empty", "plain.npy": "bare array",
                "objects.npz": "needs pickle", "truncated.npz": "not a readable multiattn grid"}
    for name, reason in expected.items():
        for reader in (multiattn.load_grids, multiattn.AttentionGrid.load, GridSet.load):
            with pytest.raises(ValueError, match="not a readable multiattn grid") as info:
                reader(tmp_path / name)
            message = str(info.value)
            assert reason in message and "allow_pickle" not in message and "\n" not in message
    with pytest.raises(FileNotFoundError, match="no grid file"):
        multiattn.load_grids(tmp_path / "missing.npz")
