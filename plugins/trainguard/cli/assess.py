"""``trainguard assess`` and ``assess banks``: the release assessment (Art. 4, 6; TC260-003 9.3).

``assess MODEL_URI`` asks the model the sampled bank questions, records the assessment in
MLflow and, on a pass, sets the alias ``assessed``: exit 0 pass, 1 fail, 2 bad input or an
unreachable store. ``assess banks DIR`` checks a bank folder against the policy without a
model: exit 0 when the banks are usable, 2 naming every problem otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.cli.exits import EXIT_FAIL, EXIT_PASS
from trainguard.exceptions import ContractError

if TYPE_CHECKING:
    import argparse

_ENVIRONMENT = (
    "Reads MLFLOW_TRACKING_URI (the model and where the assessment is recorded), "
    "TRAINGUARD_POLICY (when --policy is not given), TRAINGUARD_REGISTRY_URL (the output "
    "filter's blocklist) and TRAINGUARD_HOME."
)


def add_parsers(verbs: Any) -> dict[str, Any]:
    assess = verbs.add_parser(
        "assess",
        help="assess a model version on question banks before release; also `assess banks DIR`",
        description=(
            "Exit 0: passed, alias 'assessed' set; 1: failed (each failed measure named with "
            "its clause and question ids); 2: bad input. " + _ENVIRONMENT + " Example: "
            "trainguard assess models:/support-bot/7 --banks assessment/banks"
        ),
    )
    assess.add_argument("model_uri", help="models:/<name>/<version> (or @alias, or runs:/...)")
    assess.add_argument(
        "--banks",
        type=Path,
        help="bank folder (default: the policy's assessment.banks, else assessment/banks "
        "beside the data the version was trained on)",
    )
    assess.add_argument("--policy", help="policy YAML (default: $TRAINGUARD_POLICY or defaults)")
    assess.add_argument("--lexicon", action="append", default=[], help="extra lexicon CSV")
    assess.add_argument("--public-key", type=Path, help="Ed25519 key that checks AIGC labels")
    assess.add_argument(
        "--traces", type=int, default=50, help="answers also logged as an MLflow evaluation"
    )
    assess.add_argument("--format", choices=("text", "json"), default="text")
    banks = verbs.add_parser(
        "assess-banks", help="`assess banks DIR`: check question banks against the policy"
    )
    banks.add_argument("folder", type=Path, help="folder of *.csv banks and banks.yaml")
    banks.add_argument("--policy", help="policy YAML (default: $TRAINGUARD_POLICY or defaults)")
    return {"assess": run_assess, "assess-banks": run_banks}


def run_assess(args: argparse.Namespace) -> int:
    from trainguard.assessment.assess import assess_model
    from trainguard.assessment.banks import banks_source, fetch_banks
    from trainguard.tracking import require_tracking_store
    from trainguard.violations import Registry

    require_tracking_store()
    policy = args.policy
    source = banks_source(
        args.model_uri, banks=str(args.banks) if args.banks else None, policy_path=policy
    )
    if source is None:
        raise ContractError(
            f"no question banks for {args.model_uri}: pass --banks DIR, set the policy's "
            "assessment.banks, or commit assessment/banks beside the dataset"
        )
    folder, version = fetch_banks(source)
    quiet = args.format == "json"
    result = assess_model(
        args.model_uri,
        folder,
        policy_path=policy,
        lexicons=args.lexicon,
        registry=Registry(),
        public_key=args.public_key,
        traces=max(0, args.traces),
        banks_version=version,
        progress=None if quiet else lambda message: print(message, file=sys.stderr),
    )
    if quiet:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(result.to_text())
    return EXIT_PASS if result.passed else EXIT_FAIL


def run_banks(args: argparse.Namespace) -> int:
    from trainguard.assessment.banks import check_banks
    from trainguard.findings import Status

    banks, findings = check_banks(args.folder, policy_path=args.policy)
    failed = [f for f in findings if f.status is Status.FAIL]
    if failed:
        raise ContractError(
            f"{args.folder}: the question banks do not meet the policy: "
            + "; ".join(f"{f.entity}: {f.message} ({f.check}, {f.clauses[0]})" for f in failed)
        )
    sizes = ", ".join(
        f"{kind} {bank['questions']:,}" for kind, bank in banks.summary()["banks"].items()
    )
    print(f"{args.folder}: usable question banks ({sizes}; updated {banks.updated})")
    for finding in findings:
        if finding.status is Status.WARN:
            print(f"  warning: {finding.summary()}")
    return EXIT_PASS
