"""Analyses on grids and (L, H, Q, K) arrays."""

from .diagnostics import diagnose, position_bias
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
from .report import analysis_report
from .rollout import rollout

__all__ = [
    "DELIMITERS",
    "HEAD_TYPES",
    "analysis_report",
    "attention_distance",
    "delimiter_mask",
    "delimiter_share",
    "diagnose",
    "first_token_share",
    "head_diversity",
    "head_entropy",
    "head_similarity",
    "head_type_scores",
    "head_types",
    "locality",
    "position_bias",
    "rollout",
    "special_share",
    "topk_concentration",
]
