"""Renderers: AttentionGrid / AttentionMap -> pictures."""
