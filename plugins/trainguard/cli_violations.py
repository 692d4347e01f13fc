"""``trainguard violations ...`` and ``trainguard filter-check``: the registry from a shell.

Exit codes follow the rest of the CLI: 0 done, 1 a negative answer (``audit`` found a
break, ``filter-check`` blocks the text), 2 bad input or an unreachable registry.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from trainguard.exceptions import ContractError

EXIT_OK, EXIT_NEGATIVE = 0, 1


def _read(path: Any, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"cannot read it ({type(exc).__name__})", file=str(path),
                            field=field) from None


def _pairs(values: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        kind, sep, rest = value.partition("=")
        if not sep or not rest:
            raise ContractError("not KIND=VALUE", field="pi",
                                expected="e.g. mobile_phone=13900000000")
        pairs.append((kind.strip(), rest.strip()))
    return pairs


def run_violations(args: argparse.Namespace) -> int:
    from trainguard.policy import load_policy
    from trainguard.violations import Registry

    policy = load_policy(args.policy)
    registry = Registry(args.registry)
    verb = args.violations_verb
    if verb == "audit":
        problems = registry.audit()
        for problem in problems:
            print(f"trainguard: {problem}", file=sys.stderr)
        if problems:
            return EXIT_NEGATIVE
        print(f"{len(registry.events())} events, chain intact; every status matches its events")
        return EXIT_OK
    now = dt.datetime.now(dt.UTC)
    at_risk = policy.violations.at_risk_fraction
    if verb == "report":
        from trainguard.filtering import intake_subject

        output = _read(args.output_file, "output-file") if args.output_file else args.output
        subject = intake_subject(
            args.kind, prompt=args.prompt, output=output, pi=_pairs(args.pi),
            work_id=args.work_id,
            work_text=_read(args.work_file, "work-file") if args.work_file else "",
            source_id=args.source, finding=args.finding)
        violation = registry.report(kind=args.kind, summary=args.summary, subject=subject,
                                    reported_by=args.by, owner=args.owner, policy=policy,
                                    model_name=args.model, model_version=args.model_version)
        return _print(args, [violation], now, at_risk,
                      f"filed {violation.id} ({violation.kind}, {violation.clause}); deadline "
                      f"{violation.deadline.isoformat()}")
    if verb == "transition":
        from trainguard.filtering import move

        violation = move(registry, args.violation_id, args.to, actor=args.by,
                         reason=args.reason)
        return _print(args, [violation], now, at_risk,
                      f"{violation.id} is now {violation.status}")
    if verb == "show":
        violation = registry.get(args.violation_id)
        history = [{key: event[key] for key in ("seq", "action", "from_status", "to_status",
                                                "actor", "at")}
                   for event in registry.events(violation.id)]
        if args.format == "json":
            print(json.dumps({**violation.to_dict(now, at_risk), "events": history},
                             ensure_ascii=False, indent=2))
            return EXIT_OK
        _print(args, [violation], now, at_risk, "")
        for event in history:
            change = (f"{event['from_status'] or '-'} -> {event['to_status']}"
                      if event["to_status"] else "")
            print(f"    #{event['seq']} {event['at']} {event['action']} {change} by "
                  f"{event['actor']}")
        return EXIT_OK
    found = registry.list(status=args.status, kind=args.kind,
                          open_only=args.open or args.overdue)
    if args.overdue:
        found = [v for v in found if v.sla(now, at_risk) in ("at_risk", "overdue")]
    return _print(args, found, now, at_risk, "" if found else "no violations")


def _print(args: argparse.Namespace, violations: list[Any], now: dt.datetime,
           at_risk: float, headline: str) -> int:
    if args.format == "json":
        document: Any = [v.to_dict(now, at_risk) for v in violations]
        print(json.dumps(document[0] if args.violations_verb in ("report", "transition")
                         else document, ensure_ascii=False, indent=2))
        return EXIT_OK
    if headline:
        print(headline)
    for v in violations:
        sla = v.sla(now, at_risk)
        flag = {"overdue": "OVERDUE", "at_risk": "AT RISK"}.get(sla, sla)
        left = (v.deadline - now).total_seconds() / 86400
        print(f"{v.id}  {v.kind:15} {v.status:11} {flag:8} deadline "
              f"{v.deadline.isoformat()} ({left:+.1f} days)  owner {v.owner}: {v.summary}")
    return EXIT_OK


def run_filter_check(args: argparse.Namespace) -> int:
    from trainguard.filtering import check_output
    from trainguard.violations import Registry

    if (args.text is None) == (args.file is None):
        raise ContractError("give the text with --text or --file (one of them)", field="text")
    text = args.text if args.text is not None else _read(args.file, "file")
    verdict = check_output(text, Registry(args.registry))
    print(json.dumps(verdict.to_dict(), ensure_ascii=False, indent=2))
    return EXIT_OK if verdict.allowed else EXIT_NEGATIVE
