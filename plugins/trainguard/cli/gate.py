"""``trainguard scan``, ``policy``, ``waiver``, ``mask``, ``review-sample``, ``annotation``,
``optout``: the gate and the evidence it reads, from a shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.cli.exits import EXIT_FAIL, EXIT_PASS

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable


POLICY_HELP = "policy YAML overriding the defaults (default: $TRAINGUARD_POLICY, else none)"


def add_parsers(verbs: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    """The gate's verbs, and the function that runs each."""
    scan = verbs.add_parser("scan", help="run the gate's checks on a dataset directory")
    scan.add_argument("dataset", type=Path, help="dataset directory (DESIGN.md contract)")
    scan.add_argument("--policy", type=Path, help=POLICY_HELP)
    scan.add_argument(
        "--lexicon",
        type=Path,
        action="append",
        default=[],
        help="keyword lexicon CSV (term,risk); adds to the policy's lexicons",
    )
    scan.add_argument("--format", choices=("text", "json"), default="text")
    scan.add_argument(
        "--annotations",
        type=Path,
        metavar="OUT.parquet",
        help="write one row per record: pi spans, risks, duplicate_of",
    )
    scan.add_argument("--quiet", action="store_true", help="no progress on stderr")
    scan.add_argument(
        "--workers",
        type=_positive,
        default=_cores(),
        metavar="N",
        help="shards scanned at once, in parallel processes (default: the cores this "
        f"process may use, here {_cores()}; 1: all in this process)",
    )
    scan.add_argument(
        "--waivers",
        type=Path,
        metavar="FILE",
        help="waiver log to honour (default: $TRAINGUARD_WAIVERS or "
        "$TRAINGUARD_HOME/waivers.jsonl)",
    )

    waiver = verbs.add_parser("waiver", help="time-limited exceptions for named findings")
    waiver_verbs = waiver.add_subparsers(dest="waiver_verb", required=True, metavar="ACTION")
    grant = waiver_verbs.add_parser("add", help="approve an exception for a failing check")
    grant.add_argument("--check", required=True, help="check name, e.g. pi.consent")
    grant.add_argument("--source", help="only for this source id")
    grant.add_argument("--entity", help="only for this entity, e.g. 'batch B04'")
    grant.add_argument("--dataset", help="only for this dataset name")
    grant.add_argument("--by", required=True, help="the approving reviewer")
    grant.add_argument("--reason", required=True, help="why the exception is acceptable")
    grant.add_argument(
        "--until",
        required=True,
        help="expiry: YYYY-MM-DD (end of that day, UTC) or ISO time with offset",
    )
    grant.add_argument(
        "--policy",
        type=Path,
        help="policy (violations.waiver_max_days; the filing profile refuses some checks)",
    )
    grant.add_argument("--store", type=Path, help="waiver log (default as for scan)")
    listing = waiver_verbs.add_parser("list", help="the waivers in force (or all)")
    listing.add_argument("--all", action="store_true", help="include expired ones")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.add_argument("--store", type=Path)
    revoke = waiver_verbs.add_parser("revoke", help="withdraw a waiver before it expires")
    revoke.add_argument("waiver_id")
    revoke.add_argument("--by", required=True)
    revoke.add_argument("--reason", required=True)
    revoke.add_argument("--store", type=Path)

    mask = verbs.add_parser(
        "mask", help="mask PI without valid consent, as a new DVC revision of the dataset"
    )
    mask.add_argument("repo", type=Path, help="git+DVC repository")
    mask.add_argument("--path", required=True, help="dataset directory in the repository")
    mask.add_argument("--rev", required=True, help="revision to mask")
    mask.add_argument("--tag", required=True, help="git tag for the masked revision")
    mask.add_argument("--policy", type=Path, help=POLICY_HELP)
    mask.add_argument(
        "--all",
        action="store_true",
        help="mask every PI value, not only those without valid consent",
    )

    policy = verbs.add_parser("policy", help="inspect the gate policy")
    policy_verbs = policy.add_subparsers(dest="policy_verb", required=True, metavar="ACTION")
    show = policy_verbs.add_parser("show", help="print the effective policy with its clauses")
    show.add_argument("--policy", type=Path, help=POLICY_HELP)
    show.add_argument("--format", choices=("text", "json"), default="text")

    review = verbs.add_parser(
        "review-sample", help="write the manual spot-check sample (TC260-003 9.2), PI masked"
    )
    review.add_argument("dataset", type=Path)
    review.add_argument("--out", type=Path, required=True, help="CSV to write")
    review.add_argument("--size", type=int, help="records (default: the policy's, 4,000)")
    review.add_argument("--policy", type=Path, help=POLICY_HELP)

    annotation = verbs.add_parser("annotation", help="annotation governance (Art. 8)")
    annotation_verbs = annotation.add_subparsers(
        dest="annotation_verb", required=True, metavar="ACTION"
    )
    plan = annotation_verbs.add_parser(
        "sample", help="the spot checks each batch still needs, by the policy's sampling plan"
    )
    plan.add_argument("dataset", type=Path, help="fine-tuning dataset directory")
    plan.add_argument("--out", type=Path, required=True, help="CSV to write")
    plan.add_argument("--policy", type=Path, help=POLICY_HELP)

    optout = verbs.add_parser("optout", help="the opt-out / takedown registry of works")
    optout_verbs = optout.add_subparsers(dest="optout_verb", required=True, metavar="ACTION")
    add = optout_verbs.add_parser("add", help="add a withdrawn work (its fingerprints only)")
    add.add_argument("--registry", type=Path, required=True, help="registry JSONL file")
    add.add_argument("--work-id", required=True)
    add.add_argument("--text-file", type=Path, required=True, help="the work's text (UTF-8)")
    add.add_argument("--title", default="")
    add.add_argument("--reason", default="", help="e.g. the takedown request reference")
    return {
        "scan": _scan,
        "waiver": _waiver,
        "mask": _mask,
        "policy": _policy_show,
        "review-sample": _review_sample,
        "annotation": _annotation_sample,
        "optout": _optout_add,
    }


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _positive(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _scan(args: argparse.Namespace) -> int:
    from trainguard.gate.decide import evaluate
    from trainguard.policy import load_policy
    from trainguard.progress import Progress

    progress = Progress(quiet=args.quiet, phases=3)

    from trainguard.gate.waivers import WaiverStore
    from trainguard.versioning import tracked_digest

    # In a DVC workspace the version's identity is its DVC md5, the digest the gate DAGs
    # and MLflow use; files changed since `dvc add` get the digest of what is scanned.
    tracked = tracked_digest(args.dataset)
    if tracked is not None and tracked.unchanged:
        progress(f"DVC-tracked ({tracked.dvc_file.name}): md5 {tracked.md5}")
    elif tracked is not None:
        progress(
            f"modified since {tracked.dvc_file.name} (md5 {tracked.md5}): the report's "
            "digest is of the files as they are now"
        )
    report = evaluate(
        args.dataset,
        load_policy(args.policy),
        digest=tracked.md5 if tracked is not None and tracked.unchanged else None,
        extra_lexicons=[str(p) for p in args.lexicon],
        annotations_out=args.annotations,
        progress=progress,
        waivers=WaiverStore(args.waivers).waivers(),
        workers=args.workers,
    )
    if args.annotations:
        progress(f"annotations written to {args.annotations}")
    if args.format == "json":
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        from trainguard.i18n import resolve

        print(report.to_text(resolve()))
    return EXIT_PASS if report.decision.value == "pass" else EXIT_FAIL


def _waiver(args: argparse.Namespace) -> int:
    import datetime as dt

    from trainguard.gate.waivers import WaiverStore, parse_time

    store = WaiverStore(args.store)
    if args.waiver_verb == "add":
        from trainguard.policy import load_policy

        policy = load_policy(args.policy)
        waiver = store.grant(
            check=args.check,
            source_id=args.source,
            entity=args.entity,
            dataset=args.dataset,
            approved_by=args.by,
            reason=args.reason,
            expires_at=parse_time(args.until, field="until"),
            max_days=policy.violations.waiver_max_days,
            policy=policy,
        )
        print(
            f"granted {waiver.id} for {waiver.scope()} until {waiver.expires_at.isoformat()}"
            f" (recorded in {store.path})"
        )
        return EXIT_PASS
    if args.waiver_verb == "revoke":
        store.revoke(args.waiver_id, revoked_by=args.by, reason=args.reason)
        print(f"revoked {args.waiver_id}")
        return EXIT_PASS
    now = dt.datetime.now(dt.UTC)
    waivers = store.waivers(at=None if args.all else now)
    if args.format == "json":
        print(
            json.dumps(
                [{**w.to_dict(), "active": w.active_at(now)} for w in waivers],
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_PASS
    if not waivers:
        print(f"no {'' if args.all else 'active '}waivers in {store.path}")
    for w in waivers:
        state = "active" if w.active_at(now) else "expired"
        print(
            f"{w.id}  {state:7}  {w.scope()}  until {w.expires_at.isoformat()}  by "
            f"{w.approved_by}: {w.reason}"
        )
    return EXIT_PASS


def _policy_show(args: argparse.Namespace) -> int:
    from trainguard.policy import load_policy

    policy = load_policy(args.policy)
    if args.format == "json":
        document = {
            "source": policy.source,
            "digest": policy.digest,
            **policy.governance(),
            "settings": {
                key: {"value": value, "clause": info.clause, "certainty": info.certainty}
                for key, value, info in policy.rows()
            },
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return EXIT_PASS
    print(f"# effective policy ({policy.source}); digest {policy.digest[:16]}")
    print("# certainty: C confirmed, S secondary sources agree, U unconfirmed (a setting)")
    print(f"# profile: {policy.profile}")
    for deviation in policy.deviations:
        print(
            f"# deviation: {deviation.setting} = {json.dumps(deviation.value)} (standard "
            f"{json.dumps(deviation.standard)}, {deviation.clause}): {deviation.reason}"
        )
    for key, value, info in policy.rows():
        shown = json.dumps(value, ensure_ascii=False)
        print(
            f"{key} = {shown}\n    # {info.clause} [{info.certainty}]"
            + (f" {info.note}" if info.note else "")
        )
    return EXIT_PASS


def _mask(args: argparse.Namespace) -> int:
    from trainguard.violations.masking import mask_revision

    result = mask_revision(
        args.repo,
        args.path,
        args.rev,
        tag=args.tag,
        policy_path=args.policy,
        mask_all=args.all,
        progress=print,
    )
    print(
        f"masked {result['masked']} PI value(s) in {result['records']} record(s); "
        f"{args.path}@{args.tag} is commit {result['commit'][:12]}, DVC md5 {result['md5']}"
    )
    return EXIT_PASS


def _review_sample(args: argparse.Namespace) -> int:
    from trainguard.checks.harmful import review_file, write_review_sample
    from trainguard.contract import load_dataset
    from trainguard.policy import load_policy

    dataset = load_dataset(args.dataset)
    size = args.size or load_policy(args.policy).corpus.manual_sample_size
    written = write_review_sample(dataset, size, args.out)
    print(
        f"wrote {written} records to review to {args.out}; fill in reviewer_id, verdict "
        f"(pass/fail) and reviewed_at, and commit it as {review_file(dataset)}"
    )
    return EXIT_PASS


def _annotation_sample(args: argparse.Namespace) -> int:
    from trainguard.checks.annotation import write_spot_check_sample
    from trainguard.contract import load_dataset
    from trainguard.policy import load_policy

    written = write_spot_check_sample(
        load_dataset(args.dataset), load_policy(args.policy), args.out
    )
    print(
        f"wrote {written} record(s) to spot-check to {args.out}; add the verdicts to "
        "annotation/spot_checks.csv"
    )
    return EXIT_PASS


def _optout_add(args: argparse.Namespace) -> int:
    from trainguard.exceptions import ContractError
    from trainguard.scanners.ip import OptOutRegistry, registry_entry

    try:
        text = args.text_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(
            f"cannot read the work ({type(exc).__name__})", file=str(args.text_file)
        ) from None
    if args.registry.exists() and args.work_id in OptOutRegistry.load(args.registry).work_ids:
        raise ContractError(f"work '{args.work_id}' is already registered", file=str(args.registry))
    entry = registry_entry(args.work_id, text, title=args.title, reason=args.reason)
    args.registry.parent.mkdir(parents=True, exist_ok=True)
    with args.registry.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
    print(f"registered {args.work_id} (sha256 {entry['sha256'][:16]}...) in {args.registry}")
    return EXIT_PASS
