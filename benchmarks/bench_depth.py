"""Depth analyses on MiniLM: IG convergence, attribution cost and head-ablation hook overhead.

Prints one JSON line:

- ``ig_completeness_rel_error_{4,8,32}``: ``|sum IG - (f(x) - f(b))| / |f(x) - f(b)|``
  for Gauss-Legendre integrated gradients with 4, 8 and 32 nodes;
- ``ig32_over_gxi_time``: wall time of IG (32 nodes) / gradient x input, end to end
  (each call also tokenises and captures once for the token axis);
- ``ablation_hook_overhead``: forward time with :func:`ablate_heads` hooks / without;
- ``importance_over_forward_time``: one Michel head-importance gradient / one forward;
- ``captum_ig``: integrated gradients (32 Gauss-Legendre nodes, [PAD] baseline, the same scalar
  output and the same prepared embeddings) by multiattn and by Captum's ``IntegratedGradients``
  (``method="gausslegendre"``, with its convergence delta, as multiattn reports completeness):
  medians of ``ROUNDS`` alternating rounds, ``ratio`` = Captum / multiattn (> 1: multiattn is
  faster), ``ratio_cpu`` the same in process CPU seconds (steadier on a loaded machine), and the
  largest per-token difference (when captum is installed).
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch
from _timing import best_time

from multiattn.adapters import gradients
from multiattn.adapters.ablation import ablate_heads, head_importance
from multiattn.adapters.gradients import gradient_x_input, integrated_gradients
from multiattn.zoo._text import load_minilm

SENTENCE = "The committee will meet on Monday to discuss the budget for next year."
ROUNDS = 5
STEPS = 32


def captum_ig(model: torch.nn.Module, tokenizer: object) -> dict:
    """multiattn's integrated gradients against Captum's on the same prepared inputs, same run."""
    try:
        from captum.attr import IntegratedGradients
    except ImportError as err:
        return {"skipped": str(err)}
    prep = gradients._prepare(model, tokenizer, SENTENCE, 0, "pad")
    captum = IntegratedGradients(prep["f"])
    out: dict = {}

    def ours() -> None:
        out["ours"] = gradients._integrated_gradients(prep, STEPS, "pad").values

    def theirs() -> None:
        attr, _ = captum.attribute(prep["embeds"], baselines=prep["base"], n_steps=STEPS,
                                   method="gausslegendre", return_convergence_delta=True)
        out["captum"] = attr[0].sum(-1).detach().numpy()

    wall: dict[str, list[float]] = {"ours": [], "captum": []}
    cpu: dict[str, list[float]] = {"ours": [], "captum": []}
    ours(), theirs()  # warm-up
    for _ in range(ROUNDS):
        for key, func in (("ours", ours), ("captum", theirs)):
            start, start_cpu = time.perf_counter(), time.process_time()
            func()
            wall[key].append(time.perf_counter() - start)
            cpu[key].append(time.process_time() - start_cpu)
    ours_s, captum_s = (float(np.median(wall[k])) for k in ("ours", "captum"))
    ours_cpu, captum_cpu = (float(np.median(cpu[k])) for k in ("ours", "captum"))
    return {"steps": STEPS, "ours_s": round(ours_s, 3), "captum_s": round(captum_s, 3),
            "ratio": round(captum_s / ours_s, 2), "ours_cpu_s": round(ours_cpu, 3),
            "captum_cpu_s": round(captum_cpu, 3), "ratio_cpu": round(captum_cpu / ours_cpu, 2),
            "max_abs_diff": float(np.abs(out["ours"] - out["captum"]).max()),
            "max_abs_attribution": float(np.abs(out["ours"]).max())}



def main() -> None:
    torch.set_num_threads(2)
    model, tokenizer = load_minilm()
    result = {"model": "all-MiniLM-L6-v2", "tokens": len(tokenizer(SENTENCE)["input_ids"])}
    for steps in (4, 8, 32):
        ig = integrated_gradients(model, SENTENCE, processor=tokenizer, steps=steps)
        gap = ig.meta["f_input"] - ig.meta["f_baseline"]
        result[f"ig_completeness_rel_error_{steps}"] = ig.meta["completeness_error"] / abs(gap)
    t_gxi = best_time(lambda: gradient_x_input(model, SENTENCE, processor=tokenizer))
    t_ig = best_time(lambda: integrated_gradients(model, SENTENCE, processor=tokenizer, steps=32))
    result["ig32_over_gxi_time"] = t_ig / t_gxi
    batch = tokenizer([SENTENCE] * 8, return_tensors="pt")

    def forward():
        with torch.no_grad():
            model(**batch)

    def hooked():
        with torch.no_grad(), ablate_heads(model, [(0, 1), (3, 5)]):
            model(**batch)

    t_plain = best_time(forward, 5)
    result["ablation_hook_overhead"] = best_time(hooked, 5) / t_plain
    t_importance = best_time(lambda: head_importance(model, dict(batch),
                                                      lambda m, x: m(**x).last_hidden_state.pow(2).mean()))
    result["importance_over_forward_time"] = t_importance / t_plain
    result["captum_ig"] = captum_ig(model, tokenizer)
    print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
