"""Analyses on grids and (L, H, Q, K) arrays (numpy / scipy; no model library).

Names are imported on first use (PEP 562 ``__getattr__``): ``import multiattn.analysis`` does not
load every analysis module (scipy.ndimage for alignment, sparse graphs for flow...), so a caller
that needs the text metrics pays only for those. ``rollout`` is loaded at once: it is both a
submodule and the function re-exported here, and the function must win.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from .rollout import rollout as rollout  # re-exported: the function, not the submodule

#: Public name -> the submodule that defines it.
_WHERE = {
    "alignment": ("alignment_metrics", "snap_to_energy", "word_timings", "words_to_srt"),
    "attribution": ("attribution_agreement",),
    "clustering": ("cluster_heads", "redundant_heads"),
    "corpus": ("corpus_statistics",),
    "diagnostics": ("diagnose", "position_bias"),
    "dynamics": ("metrics_by_step", "phase_change_step"),
    "edges": ("attention_received", "group_share", "head_agreement", "incoming_entropy",
              "propagate_attention", "top_k_edges"),
    "flow": ("attention_flow",),
    "heads": ("head_type_scores", "head_types"),
    "metrics": ("attention_distance", "delimiter_share", "first_token_share", "head_diversity",
                "head_entropy", "head_similarity", "locality", "special_share", "topk_concentration"),
    "relevance": ("chefer_relevance", "gradient_rollout"),
    "report": ("analysis_report",),
    "spacetime": ("readout_attention", "space_time_relevance", "space_time_rollout"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = sorted([*_MODULE_OF, "rollout"])


def __getattr__(name: str) -> Any:
    """Import the submodule defining ``name`` on first access and keep the name here.

    A submodule's own name (``multiattn.analysis.metrics``) imports that submodule, as when
    every submodule was imported eagerly.
    """
    module = _MODULE_OF.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    elif not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
