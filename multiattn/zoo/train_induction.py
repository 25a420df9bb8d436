"""Train the tiny induction model shipped in ``media_samples/induction/``.

A 2-layer GPT-2 (4 heads, width 64) learns next-token prediction on a mix of
two synthetic tasks over 54 one-token words:

- *repeats* (:func:`make_batch`): a few random filler words, then chunks of
  4-12 random words each followed by its copy.  Copies are predictable only by
  an induction circuit: a previous-token head in layer 0 marks each word with
  "after x", and a head in layer 1 attends from a later ``x`` to the word marked
  "after x" and copies it.  Chunk lengths and starts vary, so no position or
  fixed offset solves it.
- *skip-bigrams* (:func:`make_skip_batch`): at random positions the next word
  is a fixed function of the word two back.  This needs a previous-token head
  and gives it a direct training signal, so it forms within ~100 steps instead
  of waiting for the induction plateau.

Run (about 4-6 minutes on one shared CPU core)::

    nice python -m multiattn.zoo.train_induction --out media_samples/induction

Writes a Hugging Face model directory: ``model.safetensors``, ``config.json``
(GPT-2 config), ``tokenizer.json`` + ``tokenizer_config.json`` (word-level,
whitespace split) and ``training.json``
(seed, steps, losses on unpredictable and repeated words).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

__all__ = ["VOCAB_WORDS", "SEQ_LEN", "build_tokenizer", "make_batch", "make_skip_batch", "train"]

#: The model's words (one token each); short so that heatmap labels stay readable.
VOCAB_WORDS: tuple[str, ...] = tuple(
    "ant bee cat dog elk fox gnu hen ibis jay kiwi lynx mole newt owl pig "
    "quail rat seal toad urchin vole wasp yak zebu ape bat cod doe eel "
    "frog goat hare imp jackal koala lark mink nene orca puma ram slug "
    "tern unau viper wolf xerus yeti asp boar crab dove emu".split()
)
#: Tokens per training sequence (including <bos>).
SEQ_LEN = 32
_SPECIALS = ("<pad>", "<bos>")
_MIN_REPEAT, _MAX_REPEAT = 4, 12
_MAX_PREFIX = 6
_SKIP_FRACTION = 0.25  # share of each batch from the skip-bigram task
_SKIP_MAP_SEED = 123


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
    """Random ``<bos> r A A B B ...`` sequences and a mask of the predictable targets.

    ``r`` is 0-6 random filler words; each chunk ``A`` is a run of 4-12 random
    words followed by its copy (the last copy is cut at ``seq_len``).  The copies
    are predictable, but only by induction: chunk lengths and starts vary, so no
    fixed offset or position works.

    Returns
    -------
    ids : int64 array (batch, seq_len)
    repeat_mask : bool array (batch, seq_len)
        True at copy positions after the first one of each copy (the tokens an
        induction head can predict from the previous position).

    Example
    -------
    >>> ids, mask = make_batch(np.random.default_rng(0), 2)
    >>> ids.shape, mask.shape
    ((2, 32), (2, 32))
    """
    first_word = len(_SPECIALS)
    ids = rng.integers(first_word, first_word + len(VOCAB_WORDS), size=(batch, seq_len))
    ids[:, 0] = _SPECIALS.index("<bos>")
    repeat_mask = np.zeros((batch, seq_len), dtype=bool)
    for row in range(batch):
        start = 1 + int(rng.integers(0, _MAX_PREFIX + 1))
        while start < seq_len:
            n = int(rng.integers(_MIN_REPEAT, _MAX_REPEAT + 1))
            copy_end = min(start + 2 * n, seq_len)
            ids[row, start + n : copy_end] = ids[row, start : copy_end - n]
            repeat_mask[row, start + n + 1 : copy_end] = True
            start = copy_end
    return ids.astype(np.int64), repeat_mask


def make_skip_batch(
    rng: np.random.Generator, batch: int, seq_len: int = SEQ_LEN
) -> tuple[np.ndarray, np.ndarray]:
    """Random words where, at each position with probability 1/2, the word is ``g(word two back)``.

    ``g`` is one fixed permutation of the vocabulary (seed ``_SKIP_MAP_SEED``).

    Returns
    -------
    ids : int64 array (batch, seq_len)
    skip_mask : bool array (batch, seq_len)
        True where the word was set by ``g`` (predictable from the word two back).

    Example
    -------
    >>> ids, mask = make_skip_batch(np.random.default_rng(0), 2)
    >>> ids.shape, bool(mask[:, :3].any())
    ((2, 32), False)
    """
    first_word = len(_SPECIALS)
    skip_map = first_word + np.random.default_rng(_SKIP_MAP_SEED).permutation(len(VOCAB_WORDS))
    ids = first_word + rng.integers(0, len(VOCAB_WORDS), size=(batch, seq_len))
    ids[:, 0] = _SPECIALS.index("<bos>")
    skip_mask = np.zeros((batch, seq_len), dtype=bool)
    for t in range(3, seq_len):
        use = rng.random(batch) < 0.5
        ids[use, t] = skip_map[ids[use, t - 2] - first_word]
        skip_mask[use, t] = True
    return ids.astype(np.int64), skip_mask


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


def train(out_dir: Path, steps: int = 2000, seed: int = 0, batch: int = 32) -> dict:
    """Train the model and write weights, config, tokenizer and a training report.

    Each batch mixes repeat sequences and skip-bigram sequences
    (``_SKIP_FRACTION``).  The loss covers only the predictable targets (the
    repeated copies, the skip-bigram words): unpredictable words add
    nothing but gradient noise.  Predictions of unpredictable words are therefore
    not calibrated (their loss ends above chance).

    Example
    -------
    >>> report = train(Path("/tmp/induction"), steps=10)  # doctest: +SKIP
    >>> sorted(report)[:2]
    ['batch', 'chance_loss']
    """
    import torch
    from transformers import GPT2LMHeadModel

    torch.manual_seed(seed)
    torch.set_num_threads(1)  # tiny model: a second thread only adds contention
    rng = np.random.default_rng(seed)
    model = GPT2LMHeadModel(_config())
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    warmup = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: min(1.0, (step + 1) / 50))
    start = time.perf_counter()
    model.train()
    for step in range(steps):
        n_skip = int(batch * _SKIP_FRACTION)
        repeats, skips = make_batch(rng, batch - n_skip), make_skip_batch(rng, n_skip)
        ids = np.concatenate([repeats[0], skips[0]])
        predictable = np.concatenate([repeats[1], skips[1]])
        loss = _token_nll(model, ids)[torch.from_numpy(predictable[:, 1:])].mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        warmup.step()
        if step % 100 == 0:
            print(f"step {step:5d} loss on predictable words {loss.item():.3f}", flush=True)
    model.eval()
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
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(train(args.out, steps=args.steps, seed=args.seed)))


if __name__ == "__main__":
    main()
