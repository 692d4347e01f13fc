"""The ``trainguard`` command line.

Exit codes: 0 pass, 1 the gate fails, 2 bad input or an error that prevented a decision
(one message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.cli.exits import EXIT_ERROR, EXIT_FAIL, EXIT_PASS  # noqa: F401 - re-exported
from trainguard.exceptions import TrainguardError
from trainguard.settings import package_version

if TYPE_CHECKING:
    from collections.abc import Sequence


def _parser() -> tuple[argparse.ArgumentParser, dict[str, Any]]:
    from trainguard.cli import assess, export, gate, label, training, violations

    parser = argparse.ArgumentParser(
        prog="trainguard",
        description="Gate generative-model training on data legality and quality.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    demo = verbs.add_parser("demo", help="run the main job on embedded defaults")
    demo.add_argument(
        "--workdir",
        type=Path,
        default=Path(".trainguard-demo"),
        help="working folder for Airflow, MLflow, DVC (default: %(default)s)",
    )
    demo.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="size of the generated demo data (1.0 = 20,000+ records)",
    )

    handlers: dict[str, Any] = {"demo": _demo}
    handlers |= gate.add_parsers(verbs)
    handlers |= export.add_parsers(verbs)
    handlers |= violations.add_parsers(verbs)
    handlers |= training.add_parsers(verbs)
    handlers |= label.add_parsers(verbs)
    handlers |= assess.add_parsers(verbs)
    ui = verbs.add_parser(
        "ui", help="serve the Airflow UI, with the Governance page, on the demo's folder"
    )
    ui.add_argument(
        "--workdir",
        type=Path,
        default=Path(".trainguard-demo"),
        help="the folder `trainguard demo` wrote (default: %(default)s)",
    )
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=8080)

    data = verbs.add_parser("demo-data", help="generate the demo git+DVC repository only")
    data.add_argument("--out", type=Path, required=True, help="folder to build it in")
    data.add_argument("--scale", type=float, default=1.0)
    handlers |= {"ui": _ui, "demo-data": _demo_data}
    return parser, handlers


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] in (
        ["export", "verify"],
        ["export", "keygen"],
        ["label", "verify"],
        ["assess", "banks"],
    ):
        argv = [f"{argv[0]}-{argv[1]}", *argv[2:]]
    parser, handlers = _parser()
    args = parser.parse_args(argv)
    try:
        return int(handlers[args.verb](args))
    except TrainguardError as exc:
        print(f"trainguard: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("trainguard: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`trainguard impact | head`): stop quietly, as a filter does.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR


def _demo(args: argparse.Namespace) -> int:
    from trainguard.local.demo import run_demo

    return run_demo(args.workdir, scale=args.scale)


def _ui(args: argparse.Namespace) -> int:
    from trainguard.local.demo import serve_ui

    return serve_ui(args.workdir, host=args.host, port=args.port)


def _demo_data(args: argparse.Namespace) -> int:
    from trainguard.local.demo_data import build_demo_repo

    demo = build_demo_repo(args.out, scale=args.scale, progress=print)
    print(f"repository: {demo.repo}\nDVC remote: {demo.remote}")
    return EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
