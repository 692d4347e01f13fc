"""``trainguard label`` and ``label verify``: labels of generated text (Art. 16; GB 45438).

``label`` prints (or writes) the labelled output as JSON; ``label verify`` exits 0 when the
explicit and implicit labels are present and the signature matches, 1 naming each problem
otherwise, 2 on bad input or a missing key.
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


def add_parsers(verbs: Any) -> dict[str, Any]:
    label = verbs.add_parser(
        "label",
        help="label a generated text (explicit label and signed AIGC metadata, GB 45438); "
        "also `label verify FILE`",
        description=(
            "Signs with TRAINGUARD_EXPORT_SIGNING_KEY (Ed25519) or TRAINGUARD_EXPORT_KEY "
            "(HMAC). Example: trainguard label --file answer.txt --producer 'Demo Co.' "
            "--out answer.label.json"
        ),
    )
    given = label.add_mutually_exclusive_group(required=True)
    given.add_argument("--text", help="the generated text")
    given.add_argument("--file", type=Path, help="the generated text, from a UTF-8 file")
    label.add_argument("--producer", required=True, help="ContentProducer: the service or code")
    label.add_argument("--produce-id", help="ProduceID (default: a new random id)")
    label.add_argument("--label", choices=("1", "2", "3"), default="1", help="1: AI-generated")
    label.add_argument("--language", choices=("zh", "en"), help="of the explicit label")
    label.add_argument("--propagator", default="", help="ContentPropagator")
    label.add_argument("--propagate-id", default="", help="PropagateID")
    label.add_argument("--out", type=Path, help="write the JSON here (default: stdout)")
    verify = verbs.add_parser("label-verify", help="`label verify FILE`: check a labelled output")
    verify.add_argument("file", type=Path, help="a labelled output (JSON)")
    verify.add_argument("--public-key", type=Path, help="Ed25519 public key (PEM)")
    return {"label": run_label, "label-verify": run_verify}


def _read(path: Path, what: str) -> str:
    from trainguard.contract import read_text

    return read_text(path, expected=what)


def run_label(args: argparse.Namespace) -> int:
    from trainguard.labelling import label_text

    text = args.text if args.text is not None else _read(args.file, "a UTF-8 text file")
    labelled = label_text(
        text,
        producer=args.producer,
        produce_id=args.produce_id,
        label=args.label,
        language=args.language,
        propagator=args.propagator,
        propagate_id=args.propagate_id,
    )
    document = json.dumps(labelled.to_dict(), ensure_ascii=False, indent=2) + "\n"
    if args.out:
        args.out.write_text(document, encoding="utf-8")
        print(f"labelled output written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(document)
    return EXIT_PASS


def run_verify(args: argparse.Namespace) -> int:
    from trainguard.labelling import verify_label

    try:
        document = json.loads(_read(args.file, "a labelled output (JSON)"))
    except json.JSONDecodeError as exc:
        raise ContractError(
            f"not JSON (line {exc.lineno}, column {exc.colno})", file=str(args.file)
        ) from None
    problems = verify_label(document, public_key=args.public_key)
    for problem in problems:
        print(f"trainguard: {args.file}: {problem}", file=sys.stderr)
    if problems:
        return EXIT_FAIL
    print(f"{args.file}: labels present, signature valid")
    return EXIT_PASS
