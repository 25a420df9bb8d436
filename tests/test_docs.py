"""The documentation runs as written: README's API section and docs/api.md.

Each ```python block of those pages is executed in a fresh namespace, in a subprocess from a
neutral folder (so it sees only what an installed package offers, as a reader would).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(heading)
    end = markdown.find("\n## ", start + len(heading))
    return markdown[start:] if end < 0 else markdown[start:end]


def _blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


PAGES = {
    "README: The API": _blocks(_section((ROOT / "README.md").read_text(encoding="utf-8"), "## The API")),
    "docs/api.md": _blocks((ROOT / "docs" / "api.md").read_text(encoding="utf-8")),
}


def test_pages_have_code():
    assert all(PAGES.values()), {name: len(blocks) for name, blocks in PAGES.items()}


@pytest.mark.parametrize("page", list(PAGES))
def test_page_runs_as_written(page, tmp_path):
    script = tmp_path / "page.py"
    script.write_text("\n\n".join(PAGES[page]), encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=900)
    assert out.returncode == 0, f"{page} failed:\n{out.stderr[-3000:]}"


def test_readme_points_inside_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if target.startswith(("http://", "https://")):
            continue
        assert not target.startswith(".."), f"README links outside the repository: {target}"
        assert (ROOT / target).exists(), f"README links to a missing file: {target}"
    assert "../shared" not in readme
