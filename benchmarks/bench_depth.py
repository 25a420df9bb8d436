"""Depth analyses on MiniLM: IG convergence, attribution cost and head-ablation hook overhead.

Prints one JSON line:

- ``ig_completeness_rel_error_{4,8,32}``: ``|sum IG - (f(x) - f(b))| / |f(x) - f(b)|``
  for Gauss-Legendre integrated gradients with 4, 8 and 32 nodes;
- ``ig32_over_gxi_time``: wall time of IG (32 nodes) / gradient x input, end to end
  (each call also tokenises and captures once for the token axis);
- ``ablation_hook_overhead``: forward time with :func:`ablate_heads` hooks / without;
- ``importance_over_forward_time``: one Michel head-importance gradient / one forward.
"""

from __future__ import annotations

import json

import torch
from _timing import best_time

from multiattn.adapters.ablation import ablate_heads, head_importance
from multiattn.adapters.gradients import gradient_x_input, integrated_gradients
from multiattn.zoo._text import load_minilm

SENTENCE = "The committee will meet on Monday to discuss the budget for next year."



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
    print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
