"""The errors and warnings multiattn raises on purpose: one family, with the builtin base kept.

Every error the package raises because of its input or environment is a :class:`MultiattnError`,
and also the builtin exception it has always been (``MultiattnValueError`` is a ``ValueError``), so
``except ValueError`` keeps working while ``except multiattn.MultiattnError`` catches them all.
The CLI prints a ``MultiattnError`` on one line (exit status 2); anything else is a bug.

Examples
--------
>>> from multiattn.errors import MultiattnError, MultiattnValueError
>>> issubclass(MultiattnValueError, ValueError) and issubclass(MultiattnValueError, MultiattnError)
True
"""

from __future__ import annotations

__all__ = [
    "AttentionTooLargeError",
    "CostLimitError",
    "DimensionIndexError",
    "MissingDependencyError",
    "MultiattnError",
    "MultiattnFileNotFoundError",
    "MultiattnIndexError",
    "MultiattnKeyError",
    "MultiattnRuntimeError",
    "MultiattnTypeError",
    "MultiattnValueError",
    "MultiattnWarning",
    "UnsupportedModelError",
]


class MultiattnError(Exception):
    """Base of every error multiattn raises on purpose (bad input, unsupported model, limits)."""


class MultiattnValueError(MultiattnError, ValueError):
    """An argument or input has the right type but a value the package cannot use."""


class MultiattnTypeError(MultiattnError, TypeError):
    """An argument or input is of a type the package does not take."""


class MultiattnIndexError(MultiattnError, IndexError):
    """A position, layer, head, node or target outside what the data has."""


class MultiattnKeyError(MultiattnError, KeyError):
    """A name (grid, dimension, label) that the data does not have."""

    # KeyError quotes its message (repr); keep the plain one-line message.
    __str__ = BaseException.__str__


class MultiattnFileNotFoundError(MultiattnError, FileNotFoundError):
    """An input path that does not exist."""


class MultiattnRuntimeError(MultiattnError, RuntimeError):
    """The model ran but did not produce what the capture needs (e.g. no attention weights)."""


class MissingDependencyError(MultiattnError, ImportError):
    """An optional dependency (an extra) is needed for this call; the message names the pip install."""


class UnsupportedModelError(MultiattnValueError):
    """The model's architecture is refused, with the reason (e.g. it has no attention)."""


class DimensionIndexError(MultiattnIndexError, KeyError):
    """A layer, head or position index / label that the grid does not have."""

    # KeyError quotes its message (repr); keep the plain one-line message.
    __str__ = BaseException.__str__


class AttentionTooLargeError(MultiattnError, MemoryError):
    """Raised instead of allocating an attention array that would not fit."""


class CostLimitError(MultiattnError, RuntimeError):
    """Work that would take far too long, refused up front with the cheaper option in the message."""


class MultiattnWarning(UserWarning):
    """Base of the warnings multiattn issues (row sums, token overflow, transcript misfit)."""
