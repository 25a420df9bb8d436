"""Command line: `multiattn text|image|clip|audio|graph|video|... --out PATH`.

The CLI is thin: each sub-command lives in :mod:`multiattn._commands` and calls the public
API.  Package errors never show a traceback: they print ``multiattn <cmd>: error: <message>``
on one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys

from ._commands import command_modules
from .errors import MultiattnError

__all__ = ["USER_ERRORS", "build_parser", "main"]

#: Errors that mean "bad input or environment", reported in one line (exit 2), never as a traceback:
#: the package's own family, and OS / missing-module / out-of-memory errors of the environment.
#: Anything else is a bug in multiattn (exit 3, short report; the traceback with ``--debug``).
USER_ERRORS = (MultiattnError, OSError, ImportError, MemoryError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every discovered sub-command."""
    parser = argparse.ArgumentParser(prog="multiattn", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an unexpected error (for bug reports)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in command_modules():
        module.register(sub)
    return parser


def _one_line(err: BaseException) -> str:
    """The error's message on one line (KeyError without its quotes)."""
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return "; ".join(lines) or type(err).__name__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``multiattn`` console script; returns the exit status.

    Examples
    --------
    >>> main(["text", "hello", "--layer", "9", "--out", "out"])  # doctest: +SKIP
    multiattn text: error: --layer 9 --head 0 is outside the model's 6 layers x 12 heads
    2
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as err:
        if args.debug:
            raise
        print(f"multiattn {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except Exception as err:  # anything else is a bug in multiattn, not the user's input
        if args.debug:
            raise
        print(f"multiattn {args.command}: internal error ({type(err).__name__}: {_one_line(err)}); this is a "
              "bug in multiattn: please report it with the command you ran (rerun with `multiattn --debug "
              f"{args.command} ...` for the traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
