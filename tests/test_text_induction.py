"""The trained induction model: committed weights form an induction circuit."""

import numpy as np
import pytest
import torch

from multiattn.adapters.text import capture
from multiattn.analysis import head_types
from multiattn.zoo._text import induction_prompt, load_induction
from multiattn.zoo.train_induction import VOCAB_WORDS, build_tokenizer, make_batch


@pytest.fixture(scope="module")
def induction():
    return load_induction()


def _circuit(model, tokenizer, seeds=(101, 202, 303), length=12):
    """Best layer-1 induction and layer-0 previous-token head types over fresh prompts."""
    found = []
    for seed in seeds:
        rows = head_types(capture(model, induction_prompt(length, seed=seed), processor=tokenizer))
        found.append((
            max((r for r in rows if r["layer"] == 1), key=lambda r: r["scores"]["induction"]),
            max((r for r in rows if r["layer"] == 0), key=lambda r: r["scores"]["previous_token"]),
        ))
    return found


def _losses(model, tokenizer, text):
    """Per-token next-token loss of the first and the second copy (computed here, not by the trainer)."""
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(ids).logits[0, :-1]
    nll = torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="none").numpy()
    n = (ids.shape[1] - 1) // 2  # words per copy; target t is token t+1
    return nll[: n - 1].mean(), nll[n + 1 :].mean()  # skip the unpredictable first token of the copy


def test_induction_head_in_layer1_and_previous_token_head_in_layer0(induction):
    model, tokenizer = induction
    for induction_row, previous_row in _circuit(model, tokenizer):
        assert induction_row["type"] == "induction"
        assert induction_row["score"] > 0.6
        assert previous_row["type"] == "previous_token"
        assert previous_row["score"] > 0.6


def test_no_induction_without_a_repeat(induction):
    """On a sequence without repeats there is nothing to score: induction is None, not a fake number."""
    model, tokenizer = induction
    rows = head_types(capture(model, " ".join(VOCAB_WORDS[:20]), processor=tokenizer))
    assert all(r["scores"]["induction"] is None for r in rows)


def test_repeated_half_is_predicted_far_better_than_the_first(induction):
    model, tokenizer = induction
    chance = np.log(len(VOCAB_WORDS))
    for seed in (7, 8, 9):
        first, repeat = _losses(model, tokenizer, induction_prompt(15, seed=seed))
        assert first > 0.8 * chance  # random words: nothing to predict
        assert repeat < 0.25 * first


def test_grid_is_causal_and_labelled_with_words(induction):
    model, tokenizer = induction
    text = induction_prompt(5, seed=1)
    grid = capture(model, text, processor=tokenizer)
    assert grid.shape == (2, 4, 11, 11)
    assert grid.query.labels == ("<bos>",) + tuple(text.split())
    assert grid.query.special_mask.tolist() == [True] + [False] * 10
    assert grid.meta["causal"] is True


def test_tokenizer_and_batches_match_the_training_contract():
    tokenizer = build_tokenizer()
    cat, dog = (2 + VOCAB_WORDS.index(word) for word in ("cat", "dog"))
    assert tokenizer("cat dog")["input_ids"] == [1, cat, dog]
    ids, mask = make_batch(np.random.default_rng(0), 8)
    assert (ids[:, 0] == 1).all() and ids[:, 1:].min() >= 2
    for r, c in zip(*np.nonzero(mask)):
        # a predictable token follows a word whose every earlier occurrence was followed by it
        earlier = np.flatnonzero(ids[r, : c - 1] == ids[r, c - 1])
        assert earlier.size and (ids[r, earlier + 1] == ids[r, c]).all()
    assert 0.15 < mask.mean() < 0.4


def test_induction_prompt_validates_length():
    with pytest.raises(ValueError, match="length must be between"):
        induction_prompt(0)


@pytest.mark.slow
def test_retraining_from_scratch_forms_the_circuit(tmp_path):
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

    from multiattn.zoo.train_induction import train

    report = train(tmp_path)
    assert report["loss_repeat"] < 0.25 * report["chance_loss"]
    model = GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tmp_path)
    for induction_row, previous_row in _circuit(model, tokenizer):
        assert induction_row["type"] == "induction"
        assert previous_row["type"] == "previous_token"
