"""``trainguard dags list`` and ``dags install DIR``: trainguard's DAGs in an existing Airflow.

The wheel carries the DAG files (package data, ``trainguard/dags/``); they only wire
trainguard's operators, so a copy in any DAGs folder runs the installed version's code.
A file of the same name that differs is never overwritten without ``--overwrite``: it may
be the team's own edit.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.cli.exits import EXIT_PASS
from trainguard.exceptions import ConfigError
from trainguard.settings import bundled_dags, dag_purpose

if TYPE_CHECKING:
    import argparse

EXAMPLE_PREFIX = "example_"  # a team's own training DAGs, shipped as examples


def add_parsers(verbs: Any) -> dict[str, Any]:
    dags = verbs.add_parser("dags", help="trainguard's Airflow DAGs: list them, install them")
    actions = dags.add_subparsers(dest="dags_verb", required=True, metavar="ACTION")
    actions.add_parser("list", help="the DAGs this installation carries, with what each does")
    install = actions.add_parser("install", help="copy the DAG files into an Airflow DAGs folder")
    install.add_argument("folder", type=Path, help="Airflow's DAGs folder ([core] dags_folder)")
    install.add_argument(
        "--examples", action="store_true", help="also the example training DAGs (example_*.py)"
    )
    install.add_argument(
        "--overwrite", action="store_true", help="replace files of the same name that differ"
    )
    return {"dags": run_dags}


def bundled() -> list[Path]:
    return sorted(bundled_dags().glob("*.py"))


def run_dags(args: argparse.Namespace) -> int:
    if args.dags_verb == "list":
        for path in bundled():
            print(f"{path.stem:28} {dag_purpose(path)}")
        return EXIT_PASS
    return install(args.folder, examples=args.examples, overwrite=args.overwrite)


def install(folder: Path, *, examples: bool, overwrite: bool) -> int:
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder (give Airflow's [core] dags_folder)")
    chosen = [p for p in bundled() if examples or not p.name.startswith(EXAMPLE_PREFIX)]
    clashes = [
        folder / p.name
        for p in chosen
        if (folder / p.name).exists() and (folder / p.name).read_bytes() != p.read_bytes()
    ]
    if clashes and not overwrite:
        raise ConfigError(
            "not the same as this trainguard's DAG files (kept; pass --overwrite to replace "
            f"them): {', '.join(str(c) for c in clashes)}"
        )
    for path in chosen:
        target = folder / path.name
        state = "unchanged" if target.exists() and target.read_bytes() == path.read_bytes() else ""
        if not state:
            state = "replaced" if target.exists() else "installed"
            shutil.copyfile(path, target)
        print(f"{state:9} {target}  ({dag_purpose(path)})")
    print(
        f"{len(chosen)} DAG files in {folder}. The workers need TRAINGUARD_HASH_KEY, "
        "MLFLOW_TRACKING_URI and TRAINGUARD_HOME (docs/operations.md); the DAGs find the GX "
        "suites in the installed package."
    )
    return EXIT_PASS
