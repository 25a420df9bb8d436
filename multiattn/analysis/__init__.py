"""Analyses on grids and (L, H, Q, K) arrays (numpy / scipy; no model library)."""

from .alignment import (
    alignment_metrics,
    snap_to_energy,
    word_timings,
    words_to_srt,
)
from .attribution import attribution_agreement
from .clustering import cluster_heads, redundant_heads
from .corpus import corpus_statistics
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
from .heads import head_type_scores, head_types
from .metrics import (
    attention_distance,
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
from .rollout import rollout
from .spacetime import readout_attention, space_time_relevance, space_time_rollout

__all__ = [
    "alignment_metrics",
    "analysis_report",
    "attention_distance",
    "attention_flow",
    "attention_received",
    "attribution_agreement",
    "chefer_relevance",
    "cluster_heads",
    "corpus_statistics",
    "delimiter_share",
    "diagnose",
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
    "metrics_by_step",
    "phase_change_step",
    "position_bias",
    "propagate_attention",
    "readout_attention",
    "redundant_heads",
    "rollout",
    "snap_to_energy",
    "space_time_relevance",
    "space_time_rollout",
    "special_share",
    "top_k_edges",
    "topk_concentration",
    "word_timings",
    "words_to_srt",
]
