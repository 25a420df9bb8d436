"""Training checkpoints: they do not change the trajectory, and they show the induction head forming."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file
from safetensors.torch import load_model
from transformers import GPT2Config, GPT2LMHeadModel

from multiattn.zoo.train_induction import train


def test_checkpoints_leave_the_final_weights_bit_identical(tmp_path):
    train(tmp_path / "plain", steps=3)
    train(tmp_path / "saved", steps=3, checkpoint_every=2)
    plain = load_file(tmp_path / "plain" / "model.safetensors")
    saved = load_file(tmp_path / "saved" / "model.safetensors")
    assert plain.keys() == saved.keys()
    assert all(np.array_equal(plain[k], saved[k]) for k in plain)
    folder = tmp_path / "saved" / "checkpoints"
    assert sorted(p.name for p in folder.glob("*.safetensors")) == [
        "step_00000.safetensors", "step_00002.safetensors", "step_00003.safetensors"]
    model = GPT2LMHeadModel(GPT2Config.from_pretrained(tmp_path / "plain"))
    load_model(model, str(folder / "step_00003.safetensors"))  # tied lm_head stored once
    last = {k: v.numpy() for k, v in model.state_dict().items()}
    assert all(np.array_equal(last[k], plain[k]) for k in plain)
    first = load_file(folder / "step_00000.safetensors")
    assert not np.array_equal(first["transformer.h.0.attn.c_attn.weight"],
                              plain["transformer.h.0.attn.c_attn.weight"])
    assert len(json.loads((folder / "losses.json").read_text())["loss_on_repeats"]) == 3
    assert not (tmp_path / "plain" / "checkpoints").exists()
    with pytest.raises(ValueError, match="checkpoint_every"):
        train(tmp_path / "bad", steps=1, checkpoint_every=0)


@pytest.fixture(scope="module")
def shipped_metrics():
    from multiattn.adapters.text import capture
    from multiattn.analysis.dynamics import metrics_by_step
    from multiattn.zoo._text import induction_checkpoints, induction_prompt, load_induction

    _, tokenizer = load_induction()
    prompt = induction_prompt(16, seed=3)
    return metrics_by_step({step: capture(model, prompt, processor=tokenizer)
                            for step, model in induction_checkpoints().items()})


def test_induction_head_forms_across_the_shipped_checkpoints(shipped_metrics):
    induction = shipped_metrics["induction"]  # (steps, layers, heads)
    assert shipped_metrics["steps"][0] == 0 and shipped_metrics["steps"][-1] == 4000
    assert induction[0, 1].max() < 0.3
    assert induction[-1, 1].max() > 0.9
    # layer 0 feeds it with a previous-token head, which is not there at initialisation
    previous = shipped_metrics["previous_token"]
    assert previous[0, 0].max() < 0.3 < previous[-1, 0].max()


def test_last_checkpoint_is_the_shipped_model():
    from multiattn.zoo._text import induction_checkpoints, induction_dir, induction_training_loss

    shipped = load_file(induction_dir() / "model.safetensors")
    last = {k: v.detach().numpy() for k, v in induction_checkpoints()[4000].state_dict().items()}
    assert all(np.array_equal(last[k], shipped[k]) for k in shipped)
    loss = induction_training_loss()
    assert loss.shape == (4000,) and loss[:100].mean() > 3 * loss[-100:].mean()
