"""Tiny CLIP zoo: synthetic scenes, tokenizer/processor, and what the trained model has learnt."""

import numpy as np
import pytest
import torch

from multiattn.adapters.clip import caption_grounding, capture
from multiattn.zoo._clip import (
    COLOURS,
    IMAGE_MEAN,
    IMAGE_STD,
    build_processor,
    build_tokenizer,
    load_tiny_clip,
    make_scene,
    make_scenes,
    scene_captions,
    word_alternatives,
)
from multiattn.zoo.train_tiny_clip import _describes, _drop_word, _soft_clip_loss

HELD_OUT_SEED = 4242  # training draws from seed 0's stream; benchmarks use 31337


@pytest.fixture(scope="module")
def tiny():
    return load_tiny_clip()


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(6, HELD_OUT_SEED)


def _peak_on(patch_map, target, other, patch=8):
    r, c = np.unravel_index(int(np.argmax(patch_map)), patch_map.shape)
    t = target[r * patch:(r + 1) * patch, c * patch:(c + 1) * patch].sum()
    o = other[r * patch:(r + 1) * patch, c * patch:(c + 1) * patch].sum()
    return t > 0 and t > o


def test_scene_objects_match_caption_and_masks(rng):
    for _ in range(20):
        scene = make_scene(rng)
        (c1, s1), (c2, s2) = scene.objects
        assert c1 != c2 and s1 != s2 and scene.caption == f"a {c1} {s1} and a {c2} {s2}"
        assert not (scene.masks[0] & scene.masks[1]).any() and scene.masks.sum(axis=(1, 2)).min() > 60
        for (colour, _), mask in zip(scene.objects, scene.masks):
            mean = scene.image[mask].mean(0)
            assert np.abs(mean - COLOURS[colour]).max() < 12
        assert np.array_equal(scene.word_mask(s2), scene.masks[1])
    with pytest.raises(ValueError, match="names no object"):
        scene.word_mask("purple")


def test_make_scenes_is_deterministic():
    a, b = make_scenes(3, 7), make_scenes(3, 7)
    assert all(np.array_equal(x.image, y.image) and x.caption == y.caption for x, y in zip(a, b))


def test_caption_set_and_truth_rule():
    captions = scene_captions()
    assert len(set(captions)) == 36
    objects = (("red", "circle"), ("blue", "square"))
    assert _describes("a blue square and a red circle", objects)
    assert _describes("a red and a square", objects)
    assert _describes("a red circle a blue square", objects)  # "and" deleted
    assert not _describes("a red circle a green square", objects)
    assert not _describes("a blue circle and a red square", objects)
    assert not _describes("a red square and a blue circle", objects)
    dropped = _drop_word("a red circle and a blue square", np.random.default_rng(0))
    assert len(dropped.split()) == 6
    assert set(dropped.split()) <= {"a", "and", "red", "circle", "blue", "square"}


def test_soft_loss_prefers_the_true_pairing():
    positives = torch.eye(3)
    good = _soft_clip_loss(torch.eye(3) * 10, positives)
    bad = _soft_clip_loss(torch.ones(3, 3), positives)
    assert good < 0.01 and bad == pytest.approx(np.log(3), rel=1e-5)


def test_tokenizer_and_processor():
    tok = build_tokenizer()
    enc = tok("A red, circle! purple", return_offsets_mapping=True)
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == ["[BOS]", "a", "red", "circle", "[UNK]", "[EOS]"]
    assert enc["offset_mapping"][2] == (2, 5)
    processor = build_processor()
    scene = make_scene(np.random.default_rng(1))
    pixels = processor(images=scene.image, return_tensors="pt")["pixel_values"][0]
    expected = (scene.image / 255.0 - np.asarray(IMAGE_MEAN)) / np.asarray(IMAGE_STD)
    np.testing.assert_allclose(pixels.permute(1, 2, 0).numpy(), expected, atol=1e-5)


@pytest.fixture(scope="module")
def groundings(tiny, scenes):
    alternatives = word_alternatives()
    return [caption_grounding(tiny[0], (scene.image, scene.caption), processor=tiny[1],
                              alternatives=alternatives)
            for scene in scenes]


def test_tiny_clip_prefers_true_caption_over_swapped_binding(tiny, scenes):
    wins = 0
    for scene in scenes:
        (c1, s1), (c2, s2) = scene.objects
        logits = capture(tiny[0], (scene.image, [scene.caption, f"a {c2} {s1} and a {c1} {s2}"]),
                         processor=tiny[1]).meta["logits"]
        wins += logits[0] > logits[1]
    assert wins >= len(scenes) - 1


def test_word_maps_point_at_the_named_object(scenes, groundings):
    hits, drops = [], []
    for scene, grounding in zip(scenes, groundings):
        for g in grounding.words:
            k = next((i for i, obj in enumerate(scene.objects) if g.word in obj), None)
            if k is not None:
                hits.append(_peak_on(g.image_map.to_image(), scene.masks[k], scene.masks[1 - k]))
                drops.append(g.contribution)
    assert len(hits) == 4 * len(scenes)
    assert np.mean(hits) >= 0.8
    assert np.mean(np.array(drops) > 0) >= 0.8  # a true word fits better than its counterfactuals


def test_caption_relevance_concentrates_on_the_objects(scenes, groundings):
    ratios = []
    for scene, grounding in zip(scenes, groundings):
        patch_map = grounding.pair.image_map.to_image()
        on_object = scene.masks.any(0).reshape(8, 8, 8, 8).any(axis=(1, 3))
        share = patch_map[on_object].sum() / patch_map.sum()
        ratios.append(share / on_object.mean())
    assert np.median(ratios) > 1.3  # more relevance on object patches than their area share


def test_every_word_is_grounded_in_order(scenes, groundings):
    assert [g.word for g in groundings[0].words] == scenes[0].caption.split()
    assert groundings[0].word_matrix().shape == (7, 65)


@pytest.mark.slow
def test_training_script_runs_and_writes_loadable_weights(tmp_path):
    from safetensors.torch import load_file
    from transformers import CLIPModel

    from multiattn.zoo._clip import tiny_clip_config
    from multiattn.zoo.train_tiny_clip import train

    out = tmp_path / "w.safetensors"
    summary = train(steps=3, batch_size=8, lr=1e-3, drop=0.4, seed=0, out=out)
    assert summary["steps"] == 3 and 0 <= summary["retrieval_top1_of_36"] <= 1
    CLIPModel(tiny_clip_config()).load_state_dict(load_file(str(out)))
    assert out.stat().st_size < 3 * 1024 * 1024
