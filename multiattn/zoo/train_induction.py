"""Train the tiny induction model shipped in ``media_samples/induction/``.

A 2-layer GPT-2 (4 heads, width 64) learns next-token prediction on sequences
of random word pairs among filler words (:func:`make_batch`): each sequence has
its own pairs ``(a, b)`` — whenever ``a`` appears, ``b`` follows.  The ``b`` of a
pair seen before is predictable only in context, by an induction circuit: a
previous-token head in layer 0 marks each ``b`` with "after a", and a head in
layer 1 attends from a later ``a`` to the token right after its earlier
occurrence and copies it.  The words around each occurrence are random, so no
position, fixed offset or bag of recent words helps.

Run (about 2.5 minutes on one idle CPU core, 6.5 on a shared one; the loss on
repeats drops from ~3.3 to ~0.1 around step 2 900 — the induction phase change)::

    nice python -m multiattn.zoo.train_induction --out media_samples/induction

Writes a Hugging Face model directory: ``model.safetensors``, ``config.json``
(GPT-2 config), ``tokenizer.json`` + ``tokenizer_config.json`` (word-level,
whitespace split) and ``training.json``
(seed, steps, losses on the first and the repeated half).  With
``--checkpoint-every N`` it also keeps the weights every N steps in
``checkpoints/step_XXXXX.safetensors`` (the final weights are unchanged);
``media_samples/induction/checkpoints/`` ships 9 of them around the phase change.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from multiattn.errors import MultiattnValueError

__all__ = ["VOCAB_WORDS", "SEQ_LEN", "build_tokenizer", "make_batch", "train"]

#: The model's words (one token each); short so that heatmap labels stay readable.
VOCAB_WORDS: tuple[str, ...] = tuple(
    "ant bee cat dog elk fox gnu hen ibis jay kiwi lynx mole newt owl pig "
    "quail rat seal toad urchin vole wasp yak zebu ape bat cod doe eel "
    "frog goat hare imp jackal koala lark mink nene orca puma ram slug "
    "tern unau viper wolf xerus yeti asp boar crab dove emu".split()
)
#: Tokens per training sequence (including <bos>).
SEQ_LEN = 48
_SPECIALS = ("<pad>", "<bos>")
_N_PAIRS = 6
_PAIR_PROB = 0.7


def build_tokenizer():
    """A word-level fast tokenizer over :data:`VOCAB_WORDS` that prepends ``<bos>``.

    Example
    -------
    >>> tok = build_tokenizer()
    >>> tok("cat dog")["input_ids"]
    [1, 4, 5]
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {word: i for i, word in enumerate(_SPECIALS + VOCAB_WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", vocab["<bos>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<bos>", pad_token="<pad>", unk_token="<pad>",
        model_max_length=SEQ_LEN,
    )


def make_batch(rng: np.random.Generator, batch: int, seq_len: int = SEQ_LEN) -> tuple[np.ndarray, np.ndarray]:
    """Random sequences of word pairs and filler words, and a mask of the predictable targets.

    Each sequence has its own ``_N_PAIRS`` pairs ``(a, b)``: whenever ``a``
    appears, ``b`` follows.  Pairs (probability ``_PAIR_PROB``) and single
    filler words (never a pair's ``a``) are drawn at random until the sequence
    is full.  The ``b`` of a pair seen before is predictable, but only in
    context: the words around each occurrence are random, so neither a position
    nor a fixed offset nor a bag of recent words helps.  What solves it is the
    induction circuit: a previous-token head marks each ``b`` with "after a", and
    an induction head attends from a later ``a`` to that marked ``b`` and copies it.

    Returns
    -------
    ids : int64 array (batch, seq_len)
    repeat_mask : bool array (batch, seq_len)
        True at the ``b`` of every repeated pair (the predictable tokens).

    Example
    -------
    >>> ids, mask = make_batch(np.random.default_rng(0), 2)
    >>> ids.shape, mask.shape
    ((2, 48), (2, 48))
    """
    first_word = len(_SPECIALS)
    ids = np.zeros((batch, seq_len), dtype=np.int64)
    repeat_mask = np.zeros((batch, seq_len), dtype=bool)
    for row in range(batch):
        words = first_word + rng.permutation(len(VOCAB_WORDS))
        starts, others = words[:_N_PAIRS], words[_N_PAIRS:]
        follows = rng.choice(others, size=_N_PAIRS)
        tokens, mask, seen = [_SPECIALS.index("<bos>")], [False], set()
        while len(tokens) < seq_len:
            if rng.random() < _PAIR_PROB:
                k = int(rng.integers(_N_PAIRS))
                tokens += [starts[k], follows[k]]
                mask += [False, k in seen]
                seen.add(k)
            else:
                tokens.append(rng.choice(others))
                mask.append(False)
        ids[row], repeat_mask[row] = tokens[:seq_len], mask[:seq_len]
    return ids, repeat_mask


def _config():
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=len(_SPECIALS) + len(VOCAB_WORDS), n_positions=SEQ_LEN, n_embd=64, n_layer=2,
        n_head=4, n_inner=256, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        bos_token_id=1, eos_token_id=1, pad_token_id=0, tie_word_embeddings=True,
    )


def _token_nll(model, ids: np.ndarray):
    """Next-token negative log-likelihood, tensor ``(batch, seq_len - 1)`` (target t+1 at column t)."""
    import torch

    tensor = torch.from_numpy(ids)
    logits = model(tensor).logits[:, :-1]
    nll = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), tensor[:, 1:].reshape(-1), reduction="none"
    )
    return nll.reshape(ids.shape[0], -1)


def _split_losses(model, ids: np.ndarray, repeat_mask: np.ndarray) -> tuple[float, float]:
    """Mean loss on the unpredictable targets and on the predictable (repeated) ones."""
    import torch

    with torch.no_grad():
        nll = _token_nll(model, ids).numpy()
    predictable = repeat_mask[:, 1:]
    return float(nll[~predictable].mean()), float(nll[predictable].mean())


def _save_checkpoint(model, checkpoint_dir: Path, step: int) -> None:
    """Write the weights after ``step`` optimiser steps to ``checkpoint_dir/step_XXXXX.safetensors``."""
    from safetensors.torch import save_model

    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    save_model(model, str(checkpoint_dir / f"step_{step:05d}.safetensors"))  # drops the tied lm_head copy


def train(
    out_dir: Path, steps: int = 4000, seed: int = 0, batch: int = 32, checkpoint_every: int | None = None
) -> dict:
    """Train the model and write weights, config, tokenizer and a training report.

    With ``checkpoint_every``, the weights after every ``checkpoint_every``
    optimiser steps (and before the first, step 0, and after the last) are also
    written to ``out_dir/checkpoints/step_XXXXX.safetensors``, with the training
    loss on repeats of every step in ``out_dir/checkpoints/losses.json``.
    Saving reads the weights only, so the trajectory and the final weights are
    the same as without checkpoints.

    The loss covers only the predictable targets (the ``b`` of repeated pairs):
    the unpredictable words add nothing but gradient noise, and leaving them out
    lets the circuit form in far fewer steps.  Predictions of unpredictable words
    are therefore not calibrated (their loss ends above chance).

    Example
    -------
    >>> report = train(Path("/tmp/induction"), steps=10)  # doctest: +SKIP
    >>> sorted(report)[:2]
    ['batch', 'chance_loss']
    """
    import torch
    from transformers import GPT2LMHeadModel

    if checkpoint_every is not None and checkpoint_every < 1:
        raise MultiattnValueError(
            f"checkpoint_every must be a positive number of steps got {checkpoint_every}")
    checkpoint_dir = Path(out_dir) / "checkpoints"
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # tiny model: a second thread only adds contention
    rng = np.random.default_rng(seed)
    model = GPT2LMHeadModel(_config())
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    warmup = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: min(1.0, (step + 1) / 50))
    start = time.perf_counter()
    model.train()
    step_losses = []
    for step in range(steps):
        if checkpoint_every is not None and step % checkpoint_every == 0:
            _save_checkpoint(model, checkpoint_dir, step)
        ids, repeat_mask = make_batch(rng, batch)
        loss = _token_nll(model, ids)[torch.from_numpy(repeat_mask[:, 1:])].mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        warmup.step()
        step_losses.append(round(loss.item(), 4))
        if step % 100 == 0:
            print(f"step {step:5d} loss on repeats {loss.item():.3f}", flush=True)
    model.eval()
    if checkpoint_every is not None:
        _save_checkpoint(model, checkpoint_dir, steps)
        (checkpoint_dir / "losses.json").write_text(json.dumps({"loss_on_repeats": step_losses}) + "\n")
    loss_other, loss_repeat = _split_losses(model, *make_batch(np.random.default_rng(seed + 1), 256))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)  # config.json + model.safetensors
    build_tokenizer().save_pretrained(out_dir)  # tokenizer.json + tokenizer_config.json
    report = {
        "seed": seed, "steps": steps, "batch": batch, "seconds": round(time.perf_counter() - start, 1),
        "loss_unpredictable": round(loss_other, 4), "loss_repeat": round(loss_repeat, 4),
        "chance_loss": round(float(np.log(len(VOCAB_WORDS))), 4),
    }
    (out_dir / "training.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("media_samples/induction"))
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--checkpoint-every", type=int, default=None,
        help="also save the weights every N steps to OUT/checkpoints/step_XXXXX.safetensors",
    )
    args = parser.parse_args(argv)
    report = train(args.out, steps=args.steps, seed=args.seed, checkpoint_every=args.checkpoint_every)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
