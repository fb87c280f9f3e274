"""The `emolens` command line: one module per command in app/commands/, each registering its own parser.

Errors a user can fix print as one line and exit 2; a defect prints one line too, and its traceback goes to
a file the line names.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import capture  # noqa: F401 - first, so OpenCV is silenced before anything else imports it
from app.commands import COMMANDS
from app.commands.options import EXIT_ERROR
from app.stop_signals import StopRequested
from engines import __version__
from engines.errors import EmolensError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emolens",
        usage="emolens [-h] [--version] [COMMAND] ...",
        description="Real-time face emotion analysis, all on this device. Nothing is downloaded or sent anywhere.",
        epilog="With no COMMAND, emolens opens the window and takes the window's options: `emolens --settings FILE "
        "--start` is `emolens gui --settings FILE --start` (see `emolens gui --help`). Every command has its own "
        "--help.",
    )
    parser.add_argument("--version", action="version", version=f"emolens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="emolens", help="what to do (default: gui)")
    for command in COMMANDS:
        command.register(sub)
    return parser


def with_command(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """`emolens` alone, or `emolens` followed by the window's own options, means `emolens gui ...`."""
    if not argv:
        return ["gui"]
    first = argv[0].split("=", 1)[0]
    if not first.startswith("--") or any(option.startswith(first) for option in parser._option_string_actions):
        return argv  # a command, -h, --help, --version (or a short form of them), or a mistake argparse explains
    if any(option.startswith(first) for option in _subparser(parser, "gui")._option_string_actions):
        return ["gui", *argv]  # the window's options, or a short form of one as argparse takes it
    return argv


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise LookupError(name)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(with_command(parser, sys.argv[1:] if argv is None else list(argv)))
    try:
        return args.func(args)
    except EmolensError as exc:
        print(f"emolens: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("emolens: interrupted", file=sys.stderr)
        return 130
    except StopRequested as stop:  # before anything was written
        print(f"emolens: {stop}; nothing was written", file=sys.stderr)
        return 128 + stop.signum
    except BrokenPipeError:
        # the reader went away (`emolens bench ... | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a defect: one line, and the traceback kept for the report
        where = _save_traceback()
        print(
            f"emolens: unexpected error: {exc.__class__.__name__}: {exc} (a defect in emolens; the details are in "
            f"{where})",
            file=sys.stderr,
        )
        return 1


def _save_traceback() -> str:
    import tempfile
    import traceback

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    for folder in (Path(base) / "emolens", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "last-error.txt"
            path.write_text(traceback.format_exc())
            return str(path)
        except OSError:
            continue
    return "nowhere (no folder could be written)"


if __name__ == "__main__":
    sys.exit(main())
