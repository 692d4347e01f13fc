"""``trainguard impact`` and ``trainguard training declare``: Art. 13 and 15 from a shell.

``impact`` exits 0 with a complete answer (found or not), 1 when a dataset version could
not be read (the answer is incomplete), 2 on bad input or an unreachable MLflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.cli.exits import EXIT_FAIL, EXIT_PASS

if TYPE_CHECKING:
    import argparse


def add_parsers(verbs: Any) -> dict[str, Any]:
    impact = verbs.add_parser(
        "impact",
        help="every dataset and model version whose gated data holds a value, work or text",
        description=(
            "Scan every dataset version a gate decided on and every registered model "
            "version's training data (not only the latest) for one thing: a PI value by "
            "its HMAC, a withdrawn work, a text, or record ids. Reads MLFLOW_TRACKING_URI "
            "and TRAINGUARD_HASH_KEY. Example: trainguard impact --pi-hmac "
            "mobile_phone:$(trainguard pi-hmac mobile_phone | cut -d= -f2)"
        ),
    )
    looked_for = impact.add_mutually_exclusive_group(required=True)
    looked_for.add_argument(
        "--pi-hmac", action="append", metavar="KIND:HMAC", help="a PI value's HMAC"
    )
    looked_for.add_argument("--work-file", type=Path, help="a withdrawn work's text")
    looked_for.add_argument("--text-file", type=Path, help="a text (e.g. a reported output)")
    looked_for.add_argument("--record-id", action="append", metavar="ID", help="a record id")
    impact.add_argument("--format", choices=("text", "json"), default="text")

    training = verbs.add_parser(
        "training", help="the training contract: how a registered model is trained"
    )
    training_verbs = training.add_subparsers(dest="training_verb", required=True, metavar="ACTION")
    declare = training_verbs.add_parser(
        "declare",
        help="declare the DAG or entry point that trains a model (optimization training)",
    )
    declare.add_argument("model", help="registered model name")
    how = declare.add_mutually_exclusive_group(required=True)
    how.add_argument("--dag-id", help="an Airflow DAG that uses AdmittedTrainingOperator")
    how.add_argument("--entry-point", help="a name in the trainguard.trainers entry-point group")
    return {"impact": run_impact, "training": run_training}


def run_impact(args: argparse.Namespace) -> int:
    from trainguard.tracking import require_tracking_store
    from trainguard.violations.impact import find_impact, impact_text, lookup
    from trainguard.violations.matching import Matcher

    require_tracking_store()
    wanted = lookup(
        pi_hmac=args.pi_hmac,
        work_file=args.work_file,
        text_file=args.text_file,
        record_id=args.record_id,
    )
    impact = find_impact(Matcher(wanted))
    if args.format == "json":
        print(json.dumps(impact.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(impact_text(impact))
    return EXIT_PASS if impact.complete else EXIT_FAIL


def run_training(args: argparse.Namespace) -> int:
    from trainguard.tracking import require_tracking_store
    from trainguard.training import declare_training

    require_tracking_store()
    trainer = declare_training(args.model, dag_id=args.dag_id, entry_point=args.entry_point)
    print(f"{args.model} is trained by {trainer} (registered-model tag trainguard.training)")
    return EXIT_PASS
