"""Head ablation by hooks, Michel et al. head importance and pruning curves."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from multiattn.adapters.ablation import ablate_heads, head_importance, head_projections, pruning_curve  # noqa: E402


@pytest.fixture(scope="module")
def induction():
    from multiattn.zoo._text import induction_prompt, load_induction

    torch.set_num_threads(2)
    model, tokenizer = load_induction()
    prompts = [induction_prompt(12, seed=s) for s in range(4)]
    batch = torch.tensor([tokenizer(p)["input_ids"] for p in prompts])
    return model, tokenizer, prompts, batch


def _repeat_loss(model, ids):
    """Next-token loss on the repeated half only (the part an induction head can predict)."""
    logits = model(input_ids=ids).logits[:, :-1]
    logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[..., 0]
    half = ids.shape[1] // 2
    return -logp[:, half:].mean()


def test_projections_found(induction):
    model = induction[0]
    projections, n_heads = head_projections(model)
    assert (len(projections), n_heads) == (model.config.n_layer, model.config.n_head)


def test_ablation_equals_zeroed_projection_columns(induction):
    """Independent reference: zeroing the head's rows of c_proj's weight (GPT-2 Conv1D: in x out)."""
    model, _, _, batch = induction
    with torch.no_grad():
        with ablate_heads(model, [(1, 2), (0, 1)]):
            hooked = model(input_ids=batch).logits
        plain = model(input_ids=batch).logits
        d = model.config.n_embd // model.config.n_head
        saved = [model.transformer.h[i].attn.c_proj.weight.clone() for i in (0, 1)]
        model.transformer.h[1].attn.c_proj.weight[2 * d:3 * d] = 0
        model.transformer.h[0].attn.c_proj.weight[1 * d:2 * d] = 0
        reference = model(input_ids=batch).logits
        for i, weight in zip((0, 1), saved):
            model.transformer.h[i].attn.c_proj.weight.copy_(weight)
        again = model(input_ids=batch).logits
    np.testing.assert_allclose(hooked.numpy(), reference.numpy(), atol=1e-5)
    assert not np.allclose(hooked.numpy(), plain.numpy(), atol=1e-3)
    np.testing.assert_array_equal(again.numpy(), plain.numpy())  # hooks removed on exit


def test_ablation_on_bert_matches_reference():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                 intermediate_size=64, vocab_size=50)).eval()
    ids = torch.randint(0, 50, (2, 7))
    with torch.no_grad(), ablate_heads(model, [(0, 3)]):
        hooked = model(input_ids=ids).last_hidden_state
    with torch.no_grad():
        model.encoder.layer[0].attention.output.dense.weight[:, 24:32] = 0  # Linear: out x in
        reference = model(input_ids=ids).last_hidden_state
    np.testing.assert_allclose(hooked.numpy(), reference.numpy(), atol=1e-5)


def test_importance_equals_finite_difference(induction):
    """Checked in float64 (model cast to double): a float32 difference quotient is too coarse."""
    import copy

    model, _, _, batch = induction
    scores = head_importance(model, [batch[:2], batch[2:]], _repeat_loss)
    assert scores.shape == (2, 4) and (scores >= 0).all()
    model64 = copy.deepcopy(model).double()
    scores64 = head_importance(model64, [batch[:2], batch[2:]], _repeat_loss)
    np.testing.assert_allclose(scores, scores64, rtol=1e-4)  # float32 path = float64 up to rounding
    eps = 2.0**-12  # 1 +- eps is exact in the (float32) head scales
    for layer, head in [(0, 1), (1, 3)]:
        diffs = []
        for part in (batch[:2], batch[2:]):
            with torch.no_grad():
                with ablate_heads(model64, [(layer, head)], scale=1 + eps):
                    up = float(_repeat_loss(model64, part))
                with ablate_heads(model64, [(layer, head)], scale=1 - eps):
                    down = float(_repeat_loss(model64, part))
            diffs.append(abs(up - down) / (2 * eps))
        assert scores64[layer, head] == pytest.approx(np.mean(diffs), rel=1e-6)
    normed = head_importance(model, batch, _repeat_loss, normalize_layers=True)
    np.testing.assert_allclose(np.linalg.norm(normed, axis=1), 1.0)


def test_induction_head_ablation_raises_repeat_loss(induction):
    """Proof on known truth: the detected induction heads carry the repeated half.

    The trained model spreads induction over several redundant layer-1 heads, so
    ablating one of them is compensated by the others; ablating the detected set
    must raise the loss on the repeated half far more than ablating any other head.
    """
    from multiattn.adapters.text import capture
    from multiattn.analysis import head_types

    model, tokenizer, prompts, batch = induction
    grid = capture(model, prompts[0], processor=tokenizer)
    found = [(r["layer"], r["head"]) for r in head_types(grid) if r["type"] == "induction"]
    assert found, "no induction head detected"
    assert all(layer == 1 for layer, _ in found)
    with torch.no_grad():
        base = float(_repeat_loss(model, batch))
        with ablate_heads(model, found):
            induction_rise = float(_repeat_loss(model, batch)) - base
        other_rises = {}
        for layer in range(grid.n_layers):
            for head in range(grid.n_heads):
                if (layer, head) not in found:
                    with ablate_heads(model, [(layer, head)]):
                        other_rises[(layer, head)] = float(_repeat_loss(model, batch)) - base
    strongest_other = max(other_rises.values())
    assert induction_rise > 1.0 and induction_rise > 2 * strongest_other, (induction_rise, other_rises)


def test_pruning_curve_shapes_and_ends(induction):
    model, _, _, batch = induction
    scores = head_importance(model, batch, _repeat_loss)

    def metric(m, ids):
        with torch.no_grad():
            return float(_repeat_loss(m, ids))

    curve = pruning_curve(model, batch, metric, scores, n_random=2, seed=1)
    assert curve["fraction"].tolist() == [i / 8 for i in range(9)]
    assert curve["random"].shape == (2, 9)
    base = metric(model, batch)
    assert curve["by_importance"][0] == pytest.approx(base)
    # removing everything gives the same model whatever the order
    assert curve["random"][:, -1] == pytest.approx([curve["by_importance"][-1]] * 2)
    flat = scores.ravel()
    assert curve["order"][0] == divmod(int(np.argmin(flat)), 4)
    with torch.no_grad(), ablate_heads(model, curve["order"][:3]):
        assert curve["by_importance"][3] == pytest.approx(metric(model, batch))


@pytest.mark.parametrize("heads, match", [([(5, 0)], "out of range"), ([(0,)], "pairs"), ([3], "pairs")])
def test_ablate_bad_heads(induction, heads, match):
    with pytest.raises(ValueError, match=match):
        with ablate_heads(induction[0], heads):
            pass


def test_bad_importance_and_models(induction):
    model, _, _, batch = induction
    with pytest.raises(ValueError, match="scalar"):
        head_importance(model, batch, lambda m, x: m(input_ids=x).logits)
    with pytest.raises(ValueError, match="empty"):
        head_importance(model, [], _repeat_loss)
    with pytest.raises(ValueError, match="shape"):
        pruning_curve(model, batch, lambda m, x: 0.0, np.ones((3, 4)))
    with pytest.raises(ValueError, match="no attention output projection"):
        head_projections(torch.nn.Linear(3, 3))
