"""Analyses on grids and (L, H, Q, K) arrays."""
