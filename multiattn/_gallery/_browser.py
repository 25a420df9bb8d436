"""Headless Chromium for the gallery's screenshots (and, via ``tests/_chromium.py``, the tests).

Not product API: the library never needs a browser.  :func:`screenshot` returns ``None``
when Chromium is not installed, so the demo renders everything else and says what it skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["MISSING", "chromium", "hover", "run_chromium", "screenshot"]

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1"]

#: Why a screenshot was skipped.
MISSING = "chromium not found; install it with `apt-get install -y chromium`"


def chromium() -> str:
    """Path of the system chromium (Debian ``chromium`` package); FileNotFoundError when missing."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(MISSING)


def run_chromium(page: Path, *, dump_dom: bool = False, screenshot: Path | None = None,
                 probe: str | None = None, size: tuple[int, int] = (1200, 900),
                 virtual_time_ms: int | None = None) -> str:
    """Open ``page`` in headless chromium; return the DOM after load (``dump_dom``) or save a screenshot.

    ``probe`` is JavaScript appended to a temporary copy of the page (e.g. to hover a
    token before the picture is taken); the original file is not changed.
    ``virtual_time_ms`` lets timers (e.g. a playing video) run for that much virtual
    time before the DOM is dumped.
    """
    page = Path(page)
    with tempfile.TemporaryDirectory() as tmp:
        target = page
        if probe is not None:
            target = Path(tmp) / page.name
            text = page.read_text(encoding="utf-8")
            target.write_text(text.replace("</body>", f"<script>{probe}</script></body>"), encoding="utf-8")
        cmd = [chromium(), *_FLAGS, f"--user-data-dir={tmp}/profile", f"--window-size={size[0]},{size[1]}"]
        if virtual_time_ms is not None:
            cmd.append(f"--virtual-time-budget={int(virtual_time_ms)}")
        if dump_dom:
            cmd.append("--dump-dom")
        if screenshot is not None:
            cmd.append(f"--screenshot={Path(screenshot).resolve()}")
        cmd.append(target.resolve().as_uri())
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-500:]}")
    return done.stdout


def screenshot(page: Path, path: Path, **options) -> Path | None:
    """Screenshot ``page`` into ``path`` (options as :func:`run_chromium`); ``None`` without chromium."""
    try:
        chromium()
    except FileNotFoundError:
        return None
    run_chromium(page, screenshot=path, **options)
    return path


def hover(selector: str) -> str:
    """JavaScript that hovers the element ``selector`` (for a ``probe``)."""
    return (f"var t=document.querySelector({selector!r});"
            "t.dispatchEvent(new MouseEvent('mouseenter'));t.dispatchEvent(new MouseEvent('mousemove',"
            "{clientX:t.getBoundingClientRect().left+5,clientY:t.getBoundingClientRect().top+5}));")
