"""CLIP adapter: shapes on random-init ViT-B/32 and ViT-B/16 geometries, batching, errors."""

import numpy as np
import pytest
import torch
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, ViTConfig, ViTModel

from multiattn.adapters import clip as clip_adapter
from multiattn.axes import PatchAxis, TokenAxis
from multiattn.zoo._clip import VOCAB, build_tokenizer


def _random_clip(patch_size: int, image_size: int = 224, layers: int = 12):
    """ViT-B geometry (12 layers x 12 heads, given patch size) at a small width; tiny text tower."""
    torch.manual_seed(0)
    ids = {t: i for i, t in enumerate(VOCAB)}
    config = CLIPConfig(
        text_config=dict(vocab_size=len(VOCAB), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=16, pad_token_id=ids["[PAD]"],
                         bos_token_id=ids["[BOS]"], eos_token_id=ids["[EOS]"]),
        vision_config=dict(hidden_size=96, intermediate_size=192, num_hidden_layers=layers,
                           num_attention_heads=12, image_size=image_size, patch_size=patch_size),
        projection_dim=32,
    )
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": image_size},
                                           crop_size={"height": image_size, "width": image_size}),
        tokenizer=build_tokenizer(),
    )
    return CLIPModel(config).eval(), processor


@pytest.fixture(scope="module")
def b32():
    return _random_clip(32)


@pytest.fixture(scope="module")
def small():
    return _random_clip(16, image_size=64, layers=3)


@pytest.fixture
def image(rng):
    return rng.integers(0, 256, size=(300, 240, 3), dtype=np.uint8)


@pytest.mark.parametrize("patch, side", [(32, 7), (16, 14)])
def test_capture_shapes_vit_b(patch, side, image):
    model, processor = _random_clip(patch)
    before = model.config.vision_config._attn_implementation
    att = clip_adapter.capture(model, (image, ["a red circle and a blue square", "a red"]),
                               processor=processor)
    n = 1 + side * side
    assert att.vision.shape == (12, 12, n, n)
    axis = att.vision.query
    assert isinstance(axis, PatchAxis) and (axis.rows, axis.cols) == (side, side) and axis.prefix == ("CLS",)
    # 300x240 -> shortest edge 224 -> 280x224 -> centre crop 224: 28 rows cut at the top
    assert axis.transform == {"original_size": (300, 240), "resize": (280, 224), "crop": (28, 0, 224, 224)}
    assert [g.shape for g in att.group("text")] == [(2, 4, 9, 9), (2, 4, 4, 4)]
    assert model.config.vision_config._attn_implementation == before


def test_text_grid_is_causal_with_eot(b32, image):
    att = clip_adapter.capture(b32[0], (image, ["a red circle", "a blue square and a green"]),
                               processor=b32[1])
    for grid, n in zip(att.group("text"), (5, 8)):
        assert isinstance(grid.query, TokenAxis) and len(grid.query) == n
        assert grid.meta["eot_index"] == n - 1 and grid.query.labels[-1] == "[EOS]"
        upper = np.triu(np.ones((n, n), bool), k=1)
        assert np.all(grid.values[..., upper] == 0)
        np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-5)
    assert att.group("text")[0].query.labels == ("[BOS]", "a", "red", "circle", "[EOS]")
    assert att.group("text")[0].query.special_mask.tolist() == [True, False, False, False, True]


def test_capture_logits_match_model_forward(b32, image):
    model, processor = b32
    texts = ["a red circle", "a blue square"]
    att = clip_adapter.capture(model, (image, texts), processor=processor)
    inputs = processor(text=texts, images=image, return_tensors="pt", padding=True)
    with torch.no_grad():
        expected = model(**inputs).logits_per_image[0].numpy()
    np.testing.assert_allclose(att.meta["logits"], expected, rtol=1e-4, atol=1e-5)


def test_relevance_maps_per_pair(small, image):
    pairs = clip_adapter.relevance(small[0], (image, ["a red circle and a blue square", "a green"]),
                                   processor=small[1])
    assert len(pairs) == 2
    for pair, n_tok in zip(pairs, (9, 4)):
        assert len(pair.image_map) == 1 + 4 * 4 and pair.image_map.to_image().shape == (4, 4)
        assert pair.image_map.values[0] == 0  # CLS entry zeroed
        assert len(pair.text_map) == n_tok
        assert np.all(pair.text_map.values[pair.text_map.axis.special_mask] == 0)
        assert np.all(pair.image_map.values >= 0) and pair.image_map.values.sum() > 0
        assert pair.text_map.values.sum() > 0


def test_relevance_batching_does_not_mix_pairs(small, image, rng):
    """A short caption padded next to a long one explains exactly as it does alone."""
    model, processor = small
    together = clip_adapter.relevance(model, (image, ["a red circle and a blue square", "a green"]),
                                      processor=processor)
    alone = clip_adapter.relevance(model, (image, "a green"), processor=processor)[0]
    np.testing.assert_allclose(together[1].image_map.values, alone.image_map.values, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(together[1].text_map.values, alone.text_map.values, rtol=1e-4, atol=1e-6)
    other = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    many = clip_adapter.relevance(model, ([image, other], "a green"), processor=processor)
    assert [(p.image_index, p.text_index) for p in many] == [(0, 0), (1, 0)]
    np.testing.assert_allclose(many[0].image_map.values, alone.image_map.values, rtol=1e-4, atol=1e-6)
    assert abs(many[0].logit - alone.logit) < 1e-4


def test_relevance_pairs_equal_lists_in_order(small, image, rng):
    other = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    pairs = clip_adapter.relevance(small[0], ([image, other], ["a red", "a blue"]), processor=small[1])
    assert [(p.image_index, p.text_index, p.caption) for p in pairs] == [(0, 0, "a red"), (1, 1, "a blue")]


def test_word_contribution_is_logit_difference(small, image):
    model, processor = small
    caption = "a red circle and a blue square"
    words = clip_adapter.word_grounding(model, (image, caption), processor=processor, words=["red", "square"])
    assert [w.word for w in words] == ["red", "square"]
    captions = [caption, "a circle and a blue square", "a red circle and a blue"]
    logits = clip_adapter.capture(model, (image, captions), processor=processor).meta["logits"]
    assert words[0].contribution == pytest.approx(logits[0] - logits[1], abs=1e-4)
    assert words[1].contribution == pytest.approx(logits[0] - logits[2], abs=1e-4)
    assert words[0].char_span == (2, 5)
    assert words[0].image_map.values[0] == 0 and words[0].image_map.to_image().shape == (4, 4)


def test_word_contribution_with_alternatives_is_mean_contrast(small, image):
    model, processor = small
    caption = "a red circle"
    (red,) = clip_adapter.word_grounding(model, (image, caption), processor=processor, words=["red"],
                                         alternatives={"red": ["blue", "green", "red"]})
    logits = clip_adapter.capture(model, (image, [caption, "a circle", "a blue circle", "a green circle"]),
                                  processor=processor).meta["logits"]
    assert red.contribution == pytest.approx(logits[0] - np.mean(logits[1:]), abs=1e-4)
    assert red.meta["counterfactuals"] == ["a circle", "a blue circle", "a green circle"]
    with pytest.raises(ValueError, match="non-empty strings"):
        clip_adapter.word_grounding(model, (image, caption), processor=processor, alternatives={"red": [""]})


def test_caption_grounding_bundles_words(small, image):
    g = clip_adapter.caption_grounding(small[0], (image, "a red circle"), processor=small[1])
    assert g.word_matrix().shape == (3, 17)
    assert g.word_axis.labels == ("a", "red", "circle")
    # word relevance sums the token relevance of the word's tokens (one token per word here)
    np.testing.assert_allclose(g.word_relevance(), g.pair.text_map.values[1:4], rtol=1e-6)


# -- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("texts, match", [
    ("", "empty"),
    (["a red", "   "], "text 1 is empty"),
    ([], "no text"),
    (None, "no text"),
    ("a " * 20 + "red", "at most 16"),
])
def test_bad_text_errors(small, image, texts, match):
    with pytest.raises(ValueError, match=match):
        clip_adapter.relevance(small[0], (image, texts), processor=small[1])
    with pytest.raises(ValueError, match=match):
        clip_adapter.capture(small[0], (image, texts), processor=small[1])


def test_mismatched_batch_sizes(small, image):
    with pytest.raises(ValueError, match="mismatched batch sizes: 2 images and 3 texts"):
        clip_adapter.relevance(small[0], ([image, image], ["a", "b", "c"]), processor=small[1])
    with pytest.raises(ValueError, match="no image"):
        clip_adapter.relevance(small[0], ([], "a red"), processor=small[1])


def test_non_clip_model_is_refused(small, image):
    vit = ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=64, image_size=32, patch_size=16))
    with pytest.raises(ValueError, match="ViTModel is not a Hugging Face image-text dual encoder"):
        clip_adapter.capture(vit, (image, "a red"), processor=small[1])
    with pytest.raises(ValueError, match="not a Hugging Face image-text dual encoder"):
        clip_adapter.relevance(torch.nn.Linear(2, 2), (image, "a red"), processor=small[1])


def test_word_grounding_errors(small, image):
    with pytest.raises(ValueError, match="has one word"):
        clip_adapter.word_grounding(small[0], (image, "red"), processor=small[1])
    with pytest.raises(ValueError, match=r"\['green'\] do not occur"):
        clip_adapter.word_grounding(small[0], (image, "a red circle"), processor=small[1], words=["green"])


def test_bad_image_errors(small, tmp_path):
    with pytest.raises(FileNotFoundError):
        clip_adapter.relevance(small[0], (tmp_path / "missing.png", "a red"), processor=small[1])
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read"):
        clip_adapter.capture(small[0], (bad, "a red"), processor=small[1])
