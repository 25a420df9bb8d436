"""The public API stays small and unambiguous.

Public modules: everything under ``multiattn``, ``multiattn.analysis``, ``multiattn.adapters``
and ``multiattn.renderers`` whose path has no ``_private`` part.  No two of them may share a
name; every name in an ``__all__`` must exist and be public; the surface users import from
(``multiattn``, ``analysis``, ``stream``, ``media``, ``zoo`` and the adapter / renderer modules)
has a ceiling, so it only grows on purpose.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict

import pytest

import multiattn

PACKAGES = ["multiattn", "multiattn.analysis", "multiattn.adapters", "multiattn.renderers", "multiattn.zoo"]
#: Names a user imports (measured 134 after the issue-15 clean-up, from 158 before it, while
#: the one-way-in verbs, GridSet, LabelledArray, load_model and the CLI's writers were added).
SURFACE_CEILING = 143  # + MultiattnError (issue 18); + graph.split_graphs, network.draw_hetero (issue 16)
SURFACE_CEILING += 4  # + monitor, profile (top level), driftview.drift_heatmap, drift_distributions (20)
SURFACE_CEILING += 3  # + diagnostics.sink_tokens, image.sink_overlay_plot, vit.has_class_head (issue 16)
SURFACE_CEILING += 2  # + stream.Entropy, stream.SinkShare: row-block reducers for long inputs (issue 19)
#: The top level: verbs, core types, axes, error types.
TOP_LEVEL_CEILING = 21  # + monitor and profile, the production verbs (issue 20)


def _public_modules() -> list[str]:
    names = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.iter_modules(module.__path__):
            if not info.name.startswith("_") and not info.ispkg:
                names.append(f"{package}.{info.name}")
    return names


def _surface_modules() -> list[str]:
    mods = ["multiattn", "multiattn.analysis", "multiattn.stream", "multiattn.media", "multiattn.zoo"]
    layers = ("multiattn.adapters.", "multiattn.renderers.")
    return mods + [m for m in _public_modules() if m.startswith(layers)]


def test_no_two_public_modules_share_a_name():
    by_name = defaultdict(list)
    for name in _public_modules():
        if name not in PACKAGES:
            by_name[name.rsplit(".", 1)[1]].append(name)
    clashes = {k: v for k, v in by_name.items() if len(v) > 1}
    assert not clashes, clashes


@pytest.mark.parametrize("module_name", _public_modules())
def test_all_names_exist_and_are_public(module_name):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module_name} has no __all__"
    assert len(set(names)) == len(names), f"{module_name}.__all__ repeats a name"
    for name in names:
        assert not name.startswith("_"), f"{module_name}.__all__ exports the internal {name}"
        assert hasattr(module, name), f"{module_name}.__all__ names {name}, which does not exist"


def test_the_surface_has_a_ceiling():
    names = set()
    for module_name in _surface_modules():
        names |= set(importlib.import_module(module_name).__all__)
    assert len(names) <= SURFACE_CEILING, sorted(names)
    assert len(multiattn.__all__) <= TOP_LEVEL_CEILING, multiattn.__all__


#: Names the adapters share on purpose: each modality's module mirrors the verbs with one argument
#: order (``capture(model, inputs, *, processor=None, ...)``) and a ``prepare`` for streaming.
SHARED_BY_DESIGN = {"capture", "explain", "prepare"}


def test_no_public_name_means_two_things():
    where = defaultdict(list)
    for module_name in _surface_modules():
        for name in importlib.import_module(module_name).__all__:
            where[name].append(module_name)
    repeated = {n: ms for n, ms in where.items() if len(ms) > 1 and n not in SHARED_BY_DESIGN}
    assert not repeated, repeated


def test_top_level_has_the_verbs_and_the_core_types():
    for name in ("capture", "explain", "capture_stream", "load_model", "load_grids", "modality",
                 "AttentionGrid", "AttentionMap", "GridSet", "LabelledArray"):
        assert name in multiattn.__all__
