"""multiattn.analysis imports its submodules on first use, with the same names as before."""

import subprocess
import sys

import multiattn.analysis as analysis
from multiattn.analysis import metrics, rollout


def test_every_public_name_is_the_defining_modules_object():
    import importlib

    for name in analysis.__all__:
        module = importlib.import_module(f"multiattn.analysis.{analysis._MODULE_OF.get(name, 'rollout')}")
        assert getattr(analysis, name) is getattr(module, name), name
    assert callable(rollout) and rollout is sys.modules["multiattn.analysis.rollout"].rollout
    assert analysis.metrics is metrics and analysis.alignment.STEPS[0] == "onset"  # submodules by name
    assert set(analysis.__all__) <= set(dir(analysis))


def test_text_metrics_do_not_load_the_other_analyses():
    code = ("import sys, multiattn.analysis.textmetrics; from multiattn.analysis import rollout; "
            "import multiattn.analysis.rollout; from multiattn.analysis import rollout as again; "
            "print(callable(again), sorted(m for m in ('scipy.ndimage', 'multiattn.analysis.alignment', "
            "'multiattn.analysis.flow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "[]"]
