"""``trainguard violations ...`` and ``trainguard filter-check``: the registry from a shell.

Exit codes follow the rest of the CLI: 0 done, 1 a negative answer (``audit`` found a
break, ``filter-check`` blocks the text), 2 bad input or an unreachable registry.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import ContractError

if TYPE_CHECKING:
    import argparse

EXIT_OK, EXIT_NEGATIVE = 0, 1


def add_parsers(verbs: Any) -> dict[str, Any]:
    """``violations``, ``filter-check`` and ``pi-hmac``; kinds and statuses come from the
    enums. Returns the function that runs each verb."""
    from trainguard.violations.kinds import MOVE_TARGETS, kind_names, status_names

    violations = verbs.add_parser(
        "violations", help="the violation registry (Art. 13, 15, 19): report, list, move"
    )
    violation_verbs = violations.add_subparsers(
        dest="violations_verb", required=True, metavar="ACTION"
    )
    report = violation_verbs.add_parser("report", help="file a violation")
    report.add_argument("--kind", required=True, choices=kind_names())
    report.add_argument("--summary", required=True, help="what happened (no personal data)")
    report.add_argument("--by", required=True, help="who reports it")
    report.add_argument("--owner", default="compliance", help="who must fix it")
    report.add_argument("--prompt", default="", help="harmful_output: the prompt")
    report.add_argument("--output", default="", help="harmful_output: the generated output")
    report.add_argument("--output-file", type=Path, help="harmful_output: the output, from a file")
    report.add_argument(
        "--pi",
        action="append",
        default=[],
        metavar="KIND=VALUE",
        help="pi_request: a value to delete (stored only as its HMAC)",
    )
    report.add_argument("--work-id", default="", help="ip_complaint: the work's id")
    report.add_argument("--work-file", type=Path, help="ip_complaint: the work's text")
    report.add_argument("--source", default="", help="ip_complaint/data_finding: source id")
    report.add_argument("--finding", default="", help="data_finding: the check that failed")
    report.add_argument("--model", default=None, help="the model name concerned")
    report.add_argument("--model-version", default=None)
    listing_v = violation_verbs.add_parser("list", help="violations with their deadlines")
    listing_v.add_argument("--status", choices=status_names())
    listing_v.add_argument("--kind", choices=kind_names())
    listing_v.add_argument("--open", action="store_true", help="only open ones")
    listing_v.add_argument(
        "--overdue",
        action="store_true",
        help="only open ones past or near their deadline (at risk)",
    )
    show_v = violation_verbs.add_parser("show", help="one violation with its events")
    show_v.add_argument("violation_id")
    move = violation_verbs.add_parser("transition", help="move a violation along its lifecycle")
    move.add_argument("violation_id")
    move.add_argument("--to", required=True, choices=[s.value for s in MOVE_TARGETS])
    move.add_argument("--by", required=True)
    move.add_argument("--reason", default="", help="required for rejected")
    violation_verbs.add_parser("audit", help="verify the hash chain of every event")
    violation_verbs.add_parser(
        "rekey",
        help="once, after upgrading: key the unkeyed event chain of an older registry",
        description="Registries written before the event chain was keyed hold plain sha256 "
        "hashes, which `violations audit` reports as breaks. This verifies that chain "
        "completely, then recomputes every hash under TRAINGUARD_AUDIT_KEY.",
    )
    for sub in (report, listing_v, show_v, move):
        sub.add_argument("--format", choices=("text", "json"), default="text")
    audits = (violation_verbs.choices["audit"], violation_verbs.choices["rekey"])
    for sub in (report, listing_v, show_v, move, *audits):
        sub.add_argument(
            "--registry",
            metavar="URL",
            help="SQLAlchemy URL (default: $TRAINGUARD_REGISTRY_URL or SQLite in $TRAINGUARD_HOME)",
        )
        sub.add_argument("--policy", type=Path, help="policy (deadlines, calendar)")

    check = verbs.add_parser(
        "filter-check", help="would the output filter block this text? (exit 1 if so)"
    )
    check.add_argument("--text", help="the generated text")
    check.add_argument("--file", type=Path, help="the generated text, from a file")
    check.add_argument("--registry", metavar="URL")
    hmac_verb = verbs.add_parser(
        "pi-hmac", help="the HMAC of a PI value (for violation_intake's pi_hmacs)"
    )
    hmac_verb.add_argument("kind", help="resident_id, mobile_phone, email, ...")
    hmac_verb.add_argument(
        "value", nargs="?", help="the value (default: read from stdin, kept out of shell history)"
    )
    return {"violations": run_violations, "filter-check": run_filter_check, "pi-hmac": _pi_hmac}


def _read(path: Any, field: str) -> str:
    from trainguard.contract import read_text

    return read_text(path, field=field)


def _pairs(values: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        kind, sep, rest = value.partition("=")
        if not sep or not rest:
            raise ContractError(
                "not KIND=VALUE", field="pi", expected="e.g. mobile_phone=13900000000"
            )
        pairs.append((kind.strip(), rest.strip()))
    return pairs


def run_violations(args: argparse.Namespace) -> int:
    from trainguard.policy import load_policy
    from trainguard.violations import Registry
    from trainguard.violations.registry import existing_registry

    policy = load_policy(args.policy)
    verb = args.violations_verb
    # Only a report may create the registry; every other action reads an existing one.
    registry = Registry(args.registry) if verb == "report" else existing_registry(args.registry)
    if verb == "audit":
        problems = registry.audit()
        for problem in problems:
            print(f"trainguard: {problem}", file=sys.stderr)
        if problems:
            return EXIT_NEGATIVE
        print(
            f"{len(registry.events())} events, chain intact and keyed; every violation's "
            "stored fields and output-filter entries match its events"
        )
        return EXIT_OK
    if verb == "rekey":
        keyed = registry.rekey_unkeyed_chain()
        print(
            f"keyed {keyed} events under the audit key" if keyed else "the chain is already keyed"
        )
        return EXIT_OK
    now = dt.datetime.now(dt.UTC)
    at_risk = policy.violations.at_risk_fraction
    if verb == "report":
        from trainguard.violations.intake import file_violation

        output = _read(args.output_file, "output-file") if args.output_file else args.output
        violation = file_violation(
            registry,
            kind=args.kind,
            summary=args.summary,
            reported_by=args.by,
            owner=args.owner,
            policy=policy,
            prompt=args.prompt,
            output=output,
            pi=_pairs(args.pi),
            work_id=args.work_id,
            work_text=_read(args.work_file, "work-file") if args.work_file else "",
            source_id=args.source,
            finding=args.finding,
            model_name=args.model,
            model_version=args.model_version,
        )
        return _print(
            args,
            [violation],
            now,
            at_risk,
            f"filed {violation.id} ({violation.kind}, {violation.clause}); deadline "
            f"{violation.deadline.isoformat()}",
        )
    if verb == "transition":
        from trainguard.violations.filtering import move

        violation = move(registry, args.violation_id, args.to, actor=args.by, reason=args.reason)
        return _print(args, [violation], now, at_risk, f"{violation.id} is now {violation.status}")
    if verb == "show":
        violation = registry.get(args.violation_id)
        history = [
            {
                key: event[key]
                for key in ("seq", "action", "from_status", "to_status", "actor", "at")
            }
            for event in registry.events(violation.id)
        ]
        if args.format == "json":
            print(
                json.dumps(
                    {**violation.to_dict(now, at_risk), "events": history},
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return EXIT_OK
        _print(args, [violation], now, at_risk, "")
        for event in history:
            change = (
                f"{event['from_status'] or '-'} -> {event['to_status']}"
                if event["to_status"]
                else ""
            )
            print(
                f"    #{event['seq']} {event['at']} {event['action']} {change} by {event['actor']}"
            )
        return EXIT_OK
    found = registry.list(status=args.status, kind=args.kind, open_only=args.open or args.overdue)
    if args.overdue:
        found = [v for v in found if v.sla(now, at_risk) in ("at_risk", "overdue")]
    headline = "" if found else f"no violations in {registry.location}"
    return _print(args, found, now, at_risk, headline)


def _print(
    args: argparse.Namespace, violations: list[Any], now: dt.datetime, at_risk: float, headline: str
) -> int:
    if args.format == "json":
        document: Any = [v.to_dict(now, at_risk) for v in violations]
        print(
            json.dumps(
                document[0] if args.violations_verb in ("report", "transition") else document,
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    if headline:
        print(headline)
    if violations:
        header = f"{'ID':19}  {'KIND':15} {'STATUS':11} {'SLA':8} {'DEADLINE (UTC), DAYS LEFT':37}"
        print(f"{header}  OWNER: SUMMARY")
    for v in violations:
        sla = v.sla(now, at_risk)
        flag = {"overdue": "OVERDUE", "at_risk": "AT RISK"}.get(sla, sla)
        left = (v.deadline - now).total_seconds() / 86400
        print(
            f"{v.id:19}  {v.kind:15} {v.status:11} {flag:8} "
            f"{v.deadline.isoformat(timespec='minutes')} ({left:+6.1f} days)  "
            f"{v.owner}: {v.summary}"
        )
    return EXIT_OK


def run_filter_check(args: argparse.Namespace) -> int:
    from trainguard.violations.filtering import check_output
    from trainguard.violations.registry import existing_registry

    if (args.text is None) == (args.file is None):
        raise ContractError("give the text with --text or --file (one of them)", field="text")
    text = args.text if args.text is not None else _read(args.file, "file")
    verdict = check_output(text, existing_registry(args.registry))
    print(json.dumps(verdict.to_dict(), ensure_ascii=False, indent=2))
    return EXIT_OK if verdict.allowed else EXIT_NEGATIVE


def _pi_hmac(args: argparse.Namespace) -> int:
    from trainguard.exceptions import ContractError
    from trainguard.personal_info import parse_pi_kind, pi_hmac

    kind = parse_pi_kind(args.kind, field="kind")
    value = args.value if args.value is not None else sys.stdin.readline().strip()
    if not value:
        raise ContractError("no value given", field="value")
    print(f"{kind.value}={pi_hmac(kind, value)}")
    return EXIT_OK
