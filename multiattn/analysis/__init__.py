"""Analyses on grids and (L, H, Q, K) arrays."""

from .alignment import (
    alignment_metrics,
    dtw,
    snap_to_energy,
    word_error_rate,
    word_timings,
    words_to_srt,
)
from .diagnostics import diagnose, position_bias
from .flow import attention_flow
from .graph import (
    attention_received,
    group_share,
    head_agreement,
    incoming_entropy,
    propagate_attention,
    top_k_edges,
)
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

__all__ = [
    "DELIMITERS",
    "HEAD_TYPES",
    "alignment_metrics",
    "analysis_report",
    "attention_distance",
    "attention_flow",
    "attention_received",
    "chefer_relevance",
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
    "head_similarity",
    "head_type_scores",
    "head_types",
    "incoming_entropy",
    "locality",
    "position_bias",
    "propagate_attention",
    "residual_layers",
    "rollout",
    "snap_to_energy",
    "special_share",
    "top_k_edges",
    "topk_concentration",
    "word_error_rate",
    "word_timings",
    "words_to_srt",
]
