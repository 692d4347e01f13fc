"""The ``trainguard`` command line.

Exit codes: 0 pass, 1 the gate fails, 2 bad input or an error that prevented a decision
(one message on stderr, no traceback), 3 an unexpected error: a bug, reported as one line
with where to send it (the traceback with ``TRAINGUARD_DEBUG=1``). A crash never exits 1,
the code that means "the gate failed".

Every verb takes ``--workdir DIR`` and reads the stores' settings (MLflow URI, registry,
keys) from ``DIR/trainguard.toml``; without it, from ``$TRAINGUARD_HOME/trainguard.toml``
or the nearest ``trainguard.toml`` in or above the current folder (``settings``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.cli.exits import (  # noqa: F401 - re-exported
    EXIT_BUG,
    EXIT_ERROR,
    EXIT_FAIL,
    EXIT_PASS,
)
from trainguard.exceptions import TrainguardError, one_line
from trainguard.settings import package_version

if TYPE_CHECKING:
    from collections.abc import Sequence


def _parser() -> tuple[argparse.ArgumentParser, dict[str, Any]]:
    from trainguard.cli import assess, dags, export, gate, label, training, violations

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
    handlers |= dags.add_parsers(verbs)
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
    verbs.add_parser(
        "env",
        help="print the settings of a trainguard.toml as shell exports",
        description="Print `export NAME=value` lines for the settings the other verbs read "
        "from trainguard.toml, so other tools (mlflow ui, airflow, scripts) see the same "
        'stores. Example: eval "$(trainguard env --workdir .trainguard-demo)"',
    )
    handlers |= {"ui": _ui, "demo-data": _demo_data, "env": _env}
    _finish_verbs(parser)
    return parser, handlers


# The verbs that make their folder (or use it as the embedded Airflow's home) rather than
# read a trainguard.toml from it.
_OWN_WORKDIR = ("demo", "ui", "demo-data")


def _finish_verbs(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """Every verb, at every depth: ``--workdir`` (``violations list --workdir X``), and
    for each leaf the examples, exit codes and settings of ``trainguard.cli.help``.

    argparse keeps subparsers only in private attributes, hence ``_actions``.
    """
    from trainguard.cli.help import attach

    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, sub in action.choices.items():
            verb = f"{prefix} {name}".strip()
            nested = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
            if nested:
                _finish_verbs(sub, verb)
            else:
                attach(verb, sub)
            if not any("--lang" in a.option_strings for a in sub._actions):
                sub.add_argument(
                    "--lang",
                    choices=("en", "zh"),
                    default=argparse.SUPPRESS,
                    help="language of reports and finding messages: en or zh (Simplified "
                    "Chinese); default $TRAINGUARD_LANGUAGE, else en",
                )
            if name in _OWN_WORKDIR:
                continue
            if not any("--workdir" in a.option_strings for a in sub._actions):
                sub.add_argument(
                    "--workdir",
                    type=Path,
                    default=argparse.SUPPRESS,  # the top-level default (None) stands
                    help="folder whose trainguard.toml names the stores (default: "
                    "$TRAINGUARD_HOME, or the nearest trainguard.toml above the current folder)",
                )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] in (["label", "verify"], ["assess", "banks"]):
        argv = [f"{argv[0]}-{argv[1]}", *argv[2:]]
    if argv[:1] == ["export"] and len(argv) > 1:
        from trainguard.cli.export import EXPORT_ACTIONS

        if argv[1] not in (*EXPORT_ACTIONS, "-h", "--help"):
            argv = ["export", "create", *argv[1:]]  # `export MODEL VERSION` is `create`
    parser, handlers = _parser()
    parser.set_defaults(workdir=None, lang=None)
    args = parser.parse_args(argv)
    try:
        if args.verb not in _OWN_WORKDIR:
            from trainguard.settings import use_workspace

            use_workspace(args.workdir)
        if getattr(args, "policy", "") is None:
            # One default for every verb that takes --policy: the workspace's policy, as its
            # help and `trainguard env` promise (before, `scan` fell back to the defaults).
            from trainguard.settings import env

            args.policy = env("TRAINGUARD_POLICY") or None
        if args.lang:
            from trainguard.settings import use_language

            use_language(args.lang)
        return int(handlers[args.verb](args))
    except TrainguardError as exc:
        print(f"trainguard: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("trainguard: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`trainguard impact | head`): stop quietly, as a filter does.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the last resort: a bug, never a decision
        return _report_bug(exc)


def _report_bug(exc: Exception) -> int:
    """One line for an error trainguard did not foresee, exit 3.

    The exception's message is left out of the line: it may quote the input (a record's
    bytes, a consent row), and personal information never reaches the terminal or a log.
    Its type and the place it was raised are enough to file a report; the full traceback,
    for a developer on their own data, comes with ``TRAINGUARD_DEBUG=1``.
    """
    import traceback

    from trainguard.settings import env

    if env("TRAINGUARD_DEBUG").strip() not in ("", "0"):
        traceback.print_exception(exc)
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" in {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    print(
        f"trainguard: internal error: {type(exc).__name__}{where}. This is a bug in "
        f"trainguard {package_version()}, not a gate decision; please report it with the "
        "command you ran and the traceback that TRAINGUARD_DEBUG=1 prints (docs/cli.md)",
        file=sys.stderr,
    )
    return EXIT_BUG


def _demo(args: argparse.Namespace) -> int:
    from trainguard.local.demo import run_demo

    return run_demo(args.workdir, scale=args.scale)


def _ui(args: argparse.Namespace) -> int:
    from trainguard.local.demo import serve_ui

    return serve_ui(args.workdir, host=args.host, port=args.port)


def _env(_args: argparse.Namespace) -> int:
    import shlex

    from trainguard.exceptions import ConfigError
    from trainguard.settings import CONFIG_FILE, workspace

    found = workspace()
    if found.config is None:
        raise ConfigError(
            f"no {CONFIG_FILE} to print: {found.found_by}; `trainguard demo` writes one "
            "in its --workdir, docs/operations.md shows one for a deployment"
        )
    print(f"# the settings of {found.config}")
    for name, value in found.values.items():
        print(f"export {name}={shlex.quote(value)}")
    return EXIT_PASS


def _demo_data(args: argparse.Namespace) -> int:
    from trainguard.local.demo_data import build_demo_repo

    demo = build_demo_repo(args.out, scale=args.scale, progress=print)
    print(f"repository: {demo.repo}\nDVC remote: {demo.remote}")
    return EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
