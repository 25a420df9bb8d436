"""Analyses on grids and (L, H, Q, K) arrays (numpy / scipy; no model library)."""

from .alignment import (
    alignment_metrics,
    dtw,
    snap_to_energy,
    word_error_rate,
    word_timings,
    words_to_srt,
)
from .attribution import attribution_agreement, layer_attention_maps, spearman
from .clustering import cluster_heads, mean_head_similarity, project_heads, redundant_heads
from .corpus import corpus_statistics, save_csv
from .diagnostics import diagnose, position_bias
from .dynamics import metrics_by_step, phase_change_step
from .edges import (
    attention_received,
    group_share,
    head_agreement,
    incoming_entropy,
    propagate_attention,
    top_k_edges,
)
from .flow import attention_flow
from .heads import HEAD_TYPES, head_type_scores, head_types
from .metrics import (
    DELIMITERS,
    attention_distance,
    delimiter_mask,
    delimiter_share,
    first_token_share,
    head_diversity,
    head_entropy,
    head_similarity,
    locality,
    special_share,
    topk_concentration,
)
from .relevance import chefer_relevance, gradient_rollout
from .report import analysis_report
from .rollout import residual_layers, rollout
from .spacetime import readout_attention, space_time_rollout

__all__ = [
    "DELIMITERS",
    "HEAD_TYPES",
    "ablate_heads",
    "alignment_metrics",
    "analysis_report",
    "attention_distance",
    "attention_flow",
    "attention_received",
    "attribution_agreement",
    "chefer_relevance",
    "cluster_heads",
    "corpus_statistics",
    "delimiter_mask",
    "delimiter_share",
    "diagnose",
    "dtw",
    "first_token_share",
    "gradient_rollout",
    "group_share",
    "head_agreement",
    "head_diversity",
    "head_entropy",
    "head_importance",
    "head_similarity",
    "head_type_scores",
    "head_types",
    "incoming_entropy",
    "layer_attention_maps",
    "locality",
    "mean_head_similarity",
    "metrics_by_step",
    "phase_change_step",
    "position_bias",
    "project_heads",
    "propagate_attention",
    "pruning_curve",
    "readout_attention",
    "redundant_heads",
    "residual_layers",
    "rollout",
    "save_csv",
    "snap_to_energy",
    "space_time_rollout",
    "spearman",
    "special_share",
    "top_k_edges",
    "topk_concentration",
    "word_error_rate",
    "word_timings",
    "words_to_srt",
]

#: Model-side analyses (they run the model, so they live in multiattn.adapters.ablation);
#: reachable here by name, imported on first use so `import multiattn.analysis` stays torch-free.
_MODEL_SIDE = {"ablate_heads", "head_importance", "pruning_curve"}


def __getattr__(name: str):
    if name in _MODEL_SIDE:
        from ..adapters import ablation

        return getattr(ablation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
