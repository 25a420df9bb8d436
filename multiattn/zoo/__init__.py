"""Embedded default models and samples (no network)."""
