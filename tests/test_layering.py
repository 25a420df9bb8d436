"""The layers of DESIGN.md hold at import time: heavy stacks load only where they belong.

Each check runs in a fresh interpreter (``sys.modules`` of the test session is polluted).
"""

import subprocess
import sys

import pytest

_IMPORT_ALL = """
import importlib, pkgutil, sys
import {package} as pkg
for info in pkgutil.iter_modules(pkg.__path__):
    importlib.import_module("{package}." + info.name)
"""

_CHECK = """
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & {forbidden!r})
assert not loaded, "{what} imported " + ", ".join(loaded)
"""


def _run(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1] if done.stderr else done.stdout


def test_import_multiattn_loads_no_model_or_drawing_library():
    _run("import multiattn, sys\n"
         "assert not any(m.split('.')[0] in ('torch', 'matplotlib', 'cv2', 'transformers') "
         "for m in sys.modules), sorted(m for m in sys.modules if m.split('.')[0] in "
         "('torch', 'matplotlib', 'cv2', 'transformers'))")


def test_subpackage_imports_stay_light():
    """``import multiattn.analysis / .adapters / .renderers`` alone loads no heavy stack."""
    forbidden = {"torch", "matplotlib", "cv2", "transformers", "librosa", "networkx", "timm"}
    for package in ("multiattn.analysis", "multiattn.adapters", "multiattn.renderers"):
        _run(f"import {package}, sys\n" + _CHECK.format(forbidden=forbidden, what=package))


@pytest.mark.parametrize("package, forbidden", [
    ("multiattn.analysis", {"torch", "transformers", "matplotlib", "cv2"}),  # numpy (+ scipy) only
    ("multiattn.adapters", {"matplotlib", "cv2", "networkx"}),  # adapters draw nothing
    ("multiattn.renderers", {"torch", "transformers", "timm", "torch_geometric"}),  # renderers run no model
])
def test_every_module_of_a_layer_respects_it(package, forbidden):
    _run(_IMPORT_ALL.format(package=package) + _CHECK.format(forbidden=forbidden, what=package))


def test_grid_repr_html_imports_the_renderer_lazily():
    import inspect

    import multiattn.grid

    source = inspect.getsource(multiattn.grid)
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not any("renderers" in line for line in top_level), top_level
