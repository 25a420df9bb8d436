"""Every numpy-docstring Example of the numpy-only layers runs (analysis and core modules).

Modules are discovered, so a module split or added keeps its examples tested; a module with a
runnable example (a ``>>>`` line not marked ``+SKIP``) must run at least one, and none may fail.
"""

import doctest
import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import multiattn
import multiattn.analysis

MODULES = sorted(
    [f"multiattn.analysis.{m.name}" for m in pkgutil.iter_modules(multiattn.analysis.__path__)]
    + [f"multiattn.{m.name}" for m in pkgutil.iter_modules(multiattn.__path__)
       if not m.ispkg and m.name not in ("cli", "models", "_api")]
)


def _runnable_examples(module) -> bool:
    lines = inspect.getsource(module).splitlines()
    return any(line.strip().startswith(">>>") and "+SKIP" not in line for line in lines)


def test_discovers_the_modules():
    assert "multiattn.analysis.rollout" in MODULES and "multiattn.gridset" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    # importlib: ``multiattn.analysis.rollout`` the attribute is the function, not the module
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    if _runnable_examples(module):
        assert result.attempted > 0
