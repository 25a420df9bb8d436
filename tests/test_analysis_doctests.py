import doctest
import importlib

import numpy as np
import pytest

MODULES = ["_arrays", "diagnostics", "flow", "heads", "metrics", "relevance", "report", "rollout",
           "synthetic"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    # importlib: ``multiattn.analysis.rollout`` the attribute is the function, not the module
    module = importlib.import_module(f"multiattn.analysis.{name}")
    result = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
