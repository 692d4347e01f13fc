"""``trainguard lineage`` and ``export`` (``export verify``, ``export keygen``): Art. 17."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.cli.exits import EXIT_FAIL, EXIT_PASS

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable


def add_parsers(verbs: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    """The lineage and export verbs, and the function that runs each."""
    lineage = verbs.add_parser(
        "lineage", help="a model version's lineage: runs, datasets, sources, findings"
    )
    lineage.add_argument("model", help="registered model name")
    lineage.add_argument("version", help="model version")
    lineage.add_argument("--format", choices=("text", "json"), default="text")

    export = verbs.add_parser(
        "export",
        help="write the signed provenance bundle of a model version (Art. 17); "
        "also `export verify DIR` and `export keygen --out PEM`",
    )
    export.add_argument("model", help="registered model name")
    export.add_argument("version", help="model version")
    export.add_argument("--out", type=Path, required=True, help="folder to write (new or empty)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    verify = verbs.add_parser("export-verify", help="`export verify DIR`: check a bundle")
    verify.add_argument("folder", type=Path)
    verify.add_argument(
        "--public-key", type=Path, help="Ed25519 public key (PEM) for an Ed25519-signed bundle"
    )
    keygen = verbs.add_parser("export-keygen", help="`export keygen`: a new Ed25519 key pair")
    keygen.add_argument("--out", type=Path, required=True, help="private key file to create")
    return {
        "lineage": _lineage,
        "export": _export,
        "export-verify": _export_verify,
        "export-keygen": _export_keygen,
    }


def _lineage(args: argparse.Namespace) -> int:
    import mlflow

    from trainguard.export.lineage import lineage_text, model_lineage

    lineage = model_lineage(args.model, args.version)
    if args.format == "json":
        print(json.dumps(lineage, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        print(lineage_text(lineage, mlflow.get_tracking_uri()))
    return EXIT_PASS


def _export(args: argparse.Namespace) -> int:
    from trainguard.export.bundle import export_bundle

    result = export_bundle(args.model, args.version, args.out, overwrite=args.overwrite)
    print(
        f"wrote {len(result.files)} files to {result.out} (manifest sha256 "
        f"{result.manifest_sha256[:16]}..., signed {result.algorithm}); check it with "
        f"`trainguard export verify {result.out}`"
    )
    return EXIT_PASS


def _export_verify(args: argparse.Namespace) -> int:
    from trainguard.export.bundle import verify_bundle

    problems = verify_bundle(args.folder, public_key=args.public_key)
    for problem in problems:
        print(f"trainguard: {args.folder}/{problem}", file=sys.stderr)
    if problems:
        return EXIT_FAIL
    print(f"{args.folder}: intact; manifest and signature verify")
    return EXIT_PASS


def _export_keygen(args: argparse.Namespace) -> int:
    from trainguard.export.bundle import ED25519_KEY_ENV, generate_keypair

    public = generate_keypair(args.out)
    print(
        f"private key {args.out} (set {ED25519_KEY_ENV} to it; keep it secret); public key "
        f"{public} (give it to auditors for `export verify --public-key`)"
    )
    return EXIT_PASS
