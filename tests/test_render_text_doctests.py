"""The Examples in the text renderers' docstrings run and give what they show."""

import doctest
import importlib

import matplotlib.pyplot as plt
import pytest

MODULES = ["_style", "figure", "heatmap", "lines", "modelview", "_modelview_tiles", "_text_batch", "summary",
           "_write_text"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"multiattn.renderers.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    plt.close("all")
    assert result.attempted > 0 and result.failed == 0
