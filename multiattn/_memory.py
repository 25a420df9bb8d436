"""Memory guard: estimate bytes before materialising, refuse what will not fit."""

from __future__ import annotations

import os

from multiattn.errors import AttentionTooLargeError

__all__ = ["AttentionTooLargeError", "available_bytes", "check_fits", "human", "DEFAULT_FRACTION"]

#: Fraction of the currently available memory one dense array may take.
DEFAULT_FRACTION = 0.5


def available_bytes() -> int:
    """Memory available to this process now, in bytes (Linux MemAvailable, else total)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def human(n: float) -> str:
    """A byte count for messages: ``human(16 * 2**30) == '16.0 GB'``."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


_ADVICE = ("Select fewer layers/heads first (grid.select(layer=..., head=...)), "
           "reduce heads (grid.reduce('mean', over='head')), or capture with a streaming "
           "reducer instead of the full grid; pass limit_bytes=... to raise the limit.")


def check_fits(nbytes: int, what: str, limit_bytes: int | None = None, *, advice: str | None = None) -> None:
    """Raise :class:`AttentionTooLargeError` if ``nbytes`` exceeds the limit.

    Parameters
    ----------
    nbytes : int
        Estimated size of the array about to be created.
    what : str
        Description used in the message, e.g. ``"dense grid (12, 12, 4096, 4096)"``.
    limit_bytes : int, optional
        Explicit limit; default ``DEFAULT_FRACTION`` of :func:`available_bytes`.
    advice : str, optional
        What the caller can do instead (default: select, reduce or stream a grid).

    Example
    -------
    >>> check_fits(10, "tiny array")  # fits: returns None
    """
    limit = int(DEFAULT_FRACTION * available_bytes()) if limit_bytes is None else int(limit_bytes)
    if nbytes > limit:
        raise AttentionTooLargeError(
            f"{what} needs {human(nbytes)} but the limit is {human(limit)}"
            f"{f' ({DEFAULT_FRACTION:.0%} of the memory available now)' if limit_bytes is None else ''}. "
            f"{advice or _ADVICE}"
        )
