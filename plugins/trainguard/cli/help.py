"""The end of every verb's ``--help``: examples, exit codes and the settings it reads.

One table, so a test can hold every verb to it (``tests/unit/test_cli_help.py``), and the
``--help`` of a verb says what ``docs/cli.md`` says of it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

STORES = "MLFLOW_TRACKING_URI, TRAINGUARD_HOME / TRAINGUARD_REGISTRY_URL"
KEY = "TRAINGUARD_HASH_KEY (the consent ledger's HMAC key)"
EXITS = "0 done, 2 bad input or an unreachable store"


@dataclass(frozen=True)
class VerbHelp:
    examples: tuple[str, ...]
    exits: str = EXITS
    reads: str = ""


HELP: dict[str, VerbHelp] = {
    "demo": VerbHelp(
        ("trainguard demo", "trainguard demo --workdir /tmp/tg --scale 0.1"),
        "0 the demo behaved as expected, 2 it did not (the step is named)",
        "nothing: it configures embedded Airflow, MLflow and DVC under --workdir",
    ),
    "scan": VerbHelp(
        (
            "trainguard scan datasets/pretraining",
            "trainguard scan datasets/pretraining --policy policy.yaml --format json > report.json",
        ),
        "0 the gate passes, 1 it fails (each failed check named with its clause), 2 bad input",
        f"{KEY}, TRAINGUARD_POLICY, TRAINGUARD_WAIVERS, TRAINGUARD_REGISTRY_URL",
    ),
    "waiver add": VerbHelp(
        (
            (
                "trainguard waiver add --check pi.consent --source user-feedback --by reviewer-li "
                '--reason "consent re-collection, ticket 4411" --until 2027-01-31'
            ),
        ),
        reads="TRAINGUARD_WAIVERS, TRAINGUARD_POLICY",
    ),
    "waiver list": VerbHelp(("trainguard waiver list --all",), reads="TRAINGUARD_WAIVERS"),
    "waiver revoke": VerbHelp(
        ('trainguard waiver revoke W-1a2b3c --by reviewer-li --reason "fixed"',),
        reads="TRAINGUARD_WAIVERS",
    ),
    "mask": VerbHelp(
        ("trainguard mask data-repo --path datasets/pretraining --rev v3 --tag v3-masked",),
        reads=KEY,
    ),
    "policy show": VerbHelp(
        ("trainguard policy show --policy policy.yaml --format json",), "0, 2 a bad policy"
    ),
    "review-sample": VerbHelp(
        ("trainguard review-sample datasets/pretraining --out review/sample.csv",), reads=KEY
    ),
    "annotation sample": VerbHelp(
        ("trainguard annotation sample datasets/finetuning --out spot-checks.csv",)
    ),
    "optout add": VerbHelp(
        ("trainguard optout add --registry optout.jsonl --work-id W-17 --text-file work.txt",)
    ),
    "lineage": VerbHelp(
        ("trainguard lineage my-model 3", "trainguard lineage my-model 3 --format json"),
        "0, 2 an unknown version or an unreachable MLflow",
        "MLFLOW_TRACKING_URI",
    ),
    "export create": VerbHelp(
        (
            "trainguard export create my-model 3 --out exports/my-model/v3",
            "trainguard export my-model 3 --out exports/my-model/v3   (the same)",
        ),
        reads=f"{STORES}, TRAINGUARD_EXPORT_SIGNING_KEY (Ed25519 PEM) or TRAINGUARD_EXPORT_KEY",
    ),
    "export verify": VerbHelp(
        ("trainguard export verify exports/my-model/v3 --public-key signing.pem.pub",),
        "0 intact and signed, 1 a file or the signature does not verify (each named), 2 bad input",
        "TRAINGUARD_EXPORT_KEY (for an HMAC-signed bundle)",
    ),
    "export keygen": VerbHelp(("trainguard export keygen --out keys/export-signing.pem",)),
    "violations report": VerbHelp(
        (
            (
                "trainguard violations report --kind harmful_output --summary 'user report' "
                "--by cs-wang --prompt '...' --output-file answer.txt --model my-model "
                "--model-version 3"
            ),
            (
                "trainguard pi-hmac mobile_phone | trainguard violations report --kind pi_request "
                "...   (PI only as its HMAC)"
            ),
        ),
        reads=f"{STORES}, {KEY}, TRAINGUARD_POLICY (deadlines)",
    ),
    "violations list": VerbHelp(
        ("trainguard violations list --overdue", "trainguard violations list --open --format json"),
        reads=f"{STORES}, TRAINGUARD_POLICY",
    ),
    "violations show": VerbHelp(("trainguard violations show V-20261205-43dbdb2e",), reads=STORES),
    "violations transition": VerbHelp(
        ("trainguard violations transition V-20261205-43dbdb2e --to triaged --by lead-zhao",),
        reads=STORES,
    ),
    "violations audit": VerbHelp(
        ("trainguard violations audit",),
        "0 the chain is intact, 1 a break (each named), 2 bad input",
        STORES,
    ),
    "violations rekey": VerbHelp(
        ("trainguard violations rekey --registry postgresql+psycopg://tg@db/violations",),
        "0 keyed (or already keyed), 2 the unkeyed chain does not verify, or bad input",
        STORES,
    ),
    "filter-check": VerbHelp(
        ("trainguard filter-check --file answer.txt",),
        "0 allowed, 1 blocked (the violation named), 2 bad input",
        f"{STORES}, {KEY}",
    ),
    "pi-hmac": VerbHelp(
        ("trainguard pi-hmac mobile_phone   (then type the value: it stays out of history)",),
        reads=KEY,
    ),
    "impact": VerbHelp(
        (
            (
                "trainguard impact --pi-hmac mobile_phone:$(trainguard pi-hmac mobile_phone "
                "| cut -d= -f2)"
            ),
            "trainguard impact --work-file withdrawn-novel.txt --format json",
        ),
        "0 a complete answer (found or not), 1 a version could not be read, 2 bad input",
        f"MLFLOW_TRACKING_URI, {KEY}",
    ),
    "training declare": VerbHelp(
        ("trainguard training declare my-model --dag-id my_training_dag",),
        reads="MLFLOW_TRACKING_URI",
    ),
    "label": VerbHelp(
        ("trainguard label --file answer.txt --producer my-service --out labelled.json",),
        reads="TRAINGUARD_EXPORT_SIGNING_KEY (signs the implicit label)",
    ),
    "label-verify": VerbHelp(
        ("trainguard label verify labelled.json --public-key signing.pem.pub",),
        "0 valid, 1 a problem (each named), 2 bad input",
    ),
    "assess": VerbHelp(
        (
            "trainguard assess models:/my-model/3",
            "trainguard assess models:/my-model/3 --banks assessment/banks --format json",
        ),
        "0 the assessment passes, 1 it fails (each measure named), 2 bad input",
        f"{STORES}, TRAINGUARD_POLICY",
    ),
    "assess-banks": VerbHelp(
        ("trainguard assess banks assessment/banks",),
        "0 usable, 2 each shortfall named",
        "TRAINGUARD_POLICY",
    ),
    "ui": VerbHelp(
        ("trainguard ui --workdir .trainguard-demo --port 8080",),
        "runs until stopped; 2 if the folder holds no demo",
    ),
    "dags list": VerbHelp(("trainguard dags list",), reads="nothing: the installed package"),
    "dags install": VerbHelp(
        ("trainguard dags install $AIRFLOW_HOME/dags", "trainguard dags install dags/ --examples"),
        "0 installed, 2 no such folder, or a file there differs (without --overwrite)",
        "nothing: it copies the installed package's DAG files",
    ),
    "demo-data": VerbHelp(("trainguard demo-data --out /tmp/demo-data --scale 0.1",)),
    "env": VerbHelp(
        ('eval "$(trainguard env --workdir .trainguard-demo)"',),
        "0, 2 no trainguard.toml found",
        "the trainguard.toml of --workdir, $TRAINGUARD_HOME, or the nearest folder above",
    ),
}


def epilog(verb: str) -> str:
    found = HELP[verb]
    lines = ["examples:", *(f"  {example}" for example in found.examples)]
    lines.append(f"exit codes: {found.exits}; 3 a bug (TRAINGUARD_DEBUG=1 prints its traceback)")
    reads = found.reads or "no store"
    lines.append(f"reads: {reads}; --workdir DIR takes them from DIR/trainguard.toml")
    return "\n".join(lines)


def attach(verb: str, parser: argparse.ArgumentParser) -> None:
    """Give a leaf verb its epilog, laid out line by line."""
    parser.epilog = epilog(verb)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
