"""Headless Chromium for the browser tests (re-exported from the gallery's private runner)."""

from multiattn._gallery._browser import chromium, run_chromium

__all__ = ["chromium", "run_chromium"]
