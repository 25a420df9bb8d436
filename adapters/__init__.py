"""Modality adapters: model + media -> AttentionGrid."""
