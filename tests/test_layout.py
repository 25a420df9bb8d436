"""Imports work from anywhere: the repository root (no install), a neutral folder, a wheel.

The product layout keeps ``adapters/``, ``renderers/`` and ``media_samples/`` at the top of the
repository; they must import as ``multiattn.adapters`` etc. and never as top-level names
(``adapters`` and ``renderers`` are other projects on PyPI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# drop the editable install's finder: what a checkout looks like with nothing installed
_NO_INSTALL = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path "
               "if 'editable' not in str(getattr(f, '__module__', ''))]; ")


def _run(code: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_subpackages_import_from_the_repository_root_without_an_install():
    out = _run(_NO_INSTALL + "import multiattn.adapters, multiattn.renderers, multiattn.media_samples as m;"
               "import multiattn.adapters.graph, multiattn.renderers.heatmap;"
               "print(multiattn.adapters.__file__); print(m.path('speech', 's1.wav'))", ROOT)
    assert out.returncode == 0, out.stderr
    adapters_file, sample = out.stdout.split()
    assert Path(adapters_file) == ROOT / "adapters" / "__init__.py"
    assert Path(sample).is_file()


def test_subpackages_import_from_the_repository_root_with_the_install():
    out = _run("import multiattn.adapters, multiattn.renderers; print(multiattn.renderers.__name__)", ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "multiattn.renderers"


@pytest.mark.parametrize("name", ["adapters", "renderers", "media_samples"])
def test_checkout_folders_are_not_top_level_packages(name):
    out = _run(f"import {name}", ROOT)
    assert out.returncode != 0
    assert "use `" in out.stderr and "multiattn" in out.stderr.splitlines()[-1]


def test_wheel_holds_the_subpackages_and_imports_from_a_neutral_folder(tmp_path):
    had_build = (ROOT / "build").exists()
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    if not had_build:  # setuptools stages the build in the source tree
        shutil.rmtree(ROOT / "build", ignore_errors=True)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("multiattn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "multiattn/adapters/text.py" in names and "multiattn/renderers/heatmap.py" in names
    assert "multiattn/media_samples/speech/s1.wav" in names and "multiattn/py.typed" in names
    assert not any(n.startswith(("adapters/", "renderers/", "tests/")) for n in names)
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    out = _run(_NO_INSTALL + "import multiattn.adapters.text, multiattn.renderers.heatmap, multiattn;"
               "print(multiattn.__file__)", tmp_path, env={"PYTHONPATH": str(tmp_path / "site")})
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(tmp_path / "site")
