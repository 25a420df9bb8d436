"""Peak memory of a text capture divided by the size of the grids it returns, at several lengths.

Two small random-init models: a Llama (4 layers × 8 heads, hidden 64) and a BART (4 + 4 layers ×
8 heads, d_model 64; the decoder gets a target of half the input's tokens, so its grids are
encoder ``T × T``, decoder ``T/2 × T/2`` and cross ``T/2 × T``).  In a fresh process per run, the
rise of the peak resident set (``ru_maxrss``) over a warm-up run is measured for:

- ``plain``: the model's own forward (its default SDPA attention), no capture: the baseline;
- ``eager``: the same forward on eager attention, nothing captured (each layer's weights are made
  and dropped): what computing the weights costs before anything is kept;
- ``capture``: :func:`multiattn.adapters.text.capture` as it is: Llama's softmax written straight
  into the preallocated grid by the capture's attention function (``adapters/_grid_attention.py``);
  BART's layers (encoder self, decoder self, cross) copied into theirs from hooks on the attention
  modules, the model's tuple dropped;
- ``copy``: Llama with the in-place attention function turned off (eager attention, each layer
  copied into the grid from a hook: the previous written path; the same as ``capture`` for BART);
- ``tuple``: the previous path, the model's ``output_attentions`` tuple copied into the grids
  after the forward (kept here as the before);
- ``one_arena``: ``capture`` again with ``MALLOC_ARENA_MAX=1`` in the environment (glibc keeps one
  malloc arena), which shows the floor under the allocator's run-to-run retention.

Modes alternate within each round; each figure is the median over ``--rounds`` runs (``*_runs_mb``
lists them: the glibc allocator keeps some freed per-layer temporaries resident, differently from
run to run).  The ratio over the grids' ``L × H × Q × K × 4`` bytes is given as the whole rise
(``*_factor``), above the plain forward (``capture_over_plain``) and above the eager forward
(``capture_over_eager``: what the capture itself adds).  The memory guard's estimates
(``adapters/_guard.peak_bytes``: ``guard_mb`` for the written path, ``guard_tuple_mb`` for the
tuple) must stay at or above the medians measured (``guard_holds``; ``guard_holds_every_run``: every
capture run).

Prints one JSON line: ``{"model": ..., "points": [{"tokens", "grid_mb", "plain_mb", "eager_mb",
"capture_mb", "copy_mb", "tuple_mb", "one_arena_mb", "capture_factor", "capture_over_plain",
"capture_over_eager", "copy_factor", "tuple_factor", "one_arena_factor", "guard_mb",
"guard_tuple_mb", "capture_runs_mb"}, ...], "seq2seq_model": ..., "seq2seq_points": [... the same
keys without the copy ones, plus "target_tokens"], "rounds": ..., "max_capture_factor_from_1024": ...,
"max_capture_over_plain": ..., "guard_holds": ..., "guard_holds_every_run": ...}``.  ``--long`` adds
4096 tokens (a 2 GB Llama grid).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import resource, json, sys, torch
from multiattn.adapters import text
from multiattn.adapters._hf import eager_attention
torch.manual_seed(0)
family, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if family == "llama":
    from transformers import LlamaConfig, LlamaForCausalLM
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=8,
        num_key_value_heads=8, max_position_embeddings=8192)).eval()
    tok = None
else:
    from transformers import BartConfig, BartModel
    from tests._text_tiny import WORDS, word_tokenizer
    model = BartModel(BartConfig(
        vocab_size=100, d_model=64, encoder_layers=4, decoder_layers=4, encoder_attention_heads=8,
        decoder_attention_heads=8, encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=8192,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=2)).eval()
    tok = word_tokenizer()
ids = [int(i) for i in torch.randint(3, 100, (n,))]
def target(n_tokens):  # n_tokens decoder inputs: <s> words </s> shifted right after the start token
    return None if tok is None else " ".join(WORDS[i % len(WORDS)] for i in range(n_tokens - 2))
if mode == "one_arena":  # the environment sets MALLOC_ARENA_MAX=1
    mode = "capture"
if mode == "copy":  # eager attention, each layer copied from a hook
    from multiattn.adapters import _grid_attention
    _grid_attention.writes_in_place = lambda model: False
    mode = "capture"
if mode == "tuple":  # the previous path: the model's output_attentions tuple, copied after the forward
    text._hooked_parts = lambda model, seq2seq: {}
def run(ids):
    goal = target(len(ids) // 2)
    if mode in ("plain", "eager"):
        batch = {"input_ids": torch.tensor([ids])}
        if tok is not None:
            batch["decoder_input_ids"] = torch.tensor([tok(text_target=goal)["input_ids"]])
        with torch.no_grad():
            if mode == "eager":
                with eager_attention(model):
                    model(**batch, output_attentions=False)
            else:
                model(**batch)
        return 0, 0
    out = text.capture(model, input_ids=ids, processor=tok, target=goal)
    grids = [out] if tok is None else list(out.values())
    return sum(g.values.nbytes for g in grids), len(out["decoder"].query) if tok is not None else 0
run(ids[:16])  # warm up (imports, kernels)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
grid, n_target = run(ids)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"grid": grid, "rise": after - before, "target": n_target}))
"""

MB = 2**20
MODES = ("plain", "eager", "capture", "copy", "tuple", "one_arena")
ROOT = Path(__file__).resolve().parents[1]


def _rise(family: str, mode: str, n_tokens: int) -> dict:
    env = {**os.environ, **({"MALLOC_ARENA_MAX": "1"} if mode == "one_arena" else {})}
    out = subprocess.run([sys.executable, "-c", CHILD, family, mode, str(n_tokens)], capture_output=True,
                         text=True, check=True, cwd=ROOT, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _grids(family: str, n_tokens: int, n_target: int) -> list[tuple[int, int, int, int]]:
    if family == "llama":
        return [(4, 8, n_tokens, n_tokens)]
    return [(4, 8, n_tokens, n_tokens), (4, 8, n_target, n_target), (4, 8, n_target, n_tokens)]


def point(family: str, n_tokens: int, rounds: int) -> dict:
    """One length: every mode once per round (alternating, fresh processes), medians over the rounds."""
    from multiattn.adapters._guard import peak_bytes

    modes = [mode for mode in MODES if family == "llama" or mode != "copy"]  # BART copies either way
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    for _ in range(rounds):
        for mode in modes:
            runs[mode].append(_rise(family, mode, n_tokens))
    rise = {mode: statistics.median(r["rise"] for r in results) for mode, results in runs.items()}
    grid, n_target = runs["capture"][0]["grid"], runs["capture"][0]["target"]
    shapes = _grids(family, n_tokens, n_target)
    out = {"tokens": n_tokens, **({"target_tokens": n_target} if family != "llama" else {}),
           "grid_mb": round(grid / MB, 1), **{f"{mode}_mb": round(rise[mode] / MB, 1) for mode in modes},
           "capture_factor": round(rise["capture"] / grid, 3),
           "capture_over_plain": round((rise["capture"] - rise["plain"]) / grid, 3),
           "capture_over_eager": round((rise["capture"] - rise["eager"]) / grid, 3),
           **({"copy_factor": round(rise["copy"] / grid, 3)} if "copy" in rise else {}),
           "tuple_factor": round(rise["tuple"] / grid, 3),
           "one_arena_factor": round(rise["one_arena"] / grid, 3),
           "guard_mb": round(peak_bytes(shapes, written=True) / MB, 1),
           "guard_tuple_mb": round(peak_bytes(shapes) / MB, 1),
           "capture_runs_mb": [round(r["rise"] / MB, 1) for r in runs["capture"]]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="add 4096 tokens (2 GB Llama grid)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per mode and length (medians)")
    args = parser.parse_args()
    lengths = (512, 1024, 2048)
    points = [point("llama", n, args.rounds) for n in (*lengths, *((4096,) if args.long else ()))]
    seq2seq = [point("bart", n, args.rounds) for n in lengths]
    both = points + seq2seq
    print(json.dumps({"model": "random-init Llama, 4 layers x 8 heads, hidden 64", "points": points,
                      "seq2seq_model": "random-init BART, 4 + 4 layers x 8 heads, d_model 64, target T/2",
                      "seq2seq_points": seq2seq, "rounds": args.rounds,
                      "max_capture_factor_from_1024": max(p["capture_factor"] for p in both
                                                          if p["tokens"] >= 1024),
                      "max_capture_over_plain": max(p["capture_over_plain"] for p in both),
                      "guard_holds": all(p["capture_mb"] <= p["guard_mb"]
                                         and p["tuple_mb"] <= p["guard_tuple_mb"] for p in both),
                      "guard_holds_every_run": all(max(p["capture_runs_mb"]) <= p["guard_mb"]
                                                   for p in both)}))


if __name__ == "__main__":
    main()
