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
        help="the signed provenance bundle of a model version (Art. 17): create, verify, keygen",
        description="Write, check or sign provenance bundles. `trainguard export MODEL "
        "VERSION --out DIR` is short for `export create ...`.",
    )
    actions = export.add_subparsers(dest="export_verb", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="write the bundle of a model version")
    create.add_argument("model", help="registered model name")
    create.add_argument("version", help="model version")
    create.add_argument("--out", type=Path, required=True, help="folder to write (new or empty)")
    create.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    create.add_argument("--quiet", action="store_true", help="no progress on stderr")
    verify = actions.add_parser(
        "verify", help="check a bundle: every file against the manifest, the manifest's signature"
    )
    verify.add_argument("folder", type=Path)
    verify.add_argument(
        "--public-key", type=Path, help="Ed25519 public key (PEM) for an Ed25519-signed bundle"
    )
    keygen = actions.add_parser("keygen", help="a new Ed25519 key pair for signing bundles")
    keygen.add_argument("--out", type=Path, required=True, help="private key file to create")
    return {"lineage": _lineage, "export": _run_export}


EXPORT_ACTIONS = ("create", "verify", "keygen")


def _run_export(args: argparse.Namespace) -> int:
    runner = {"create": _export, "verify": _export_verify, "keygen": _export_keygen}
    return runner[args.export_verb](args)


def _lineage(args: argparse.Namespace) -> int:
    import mlflow

    from trainguard.export.lineage import lineage_text, model_lineage
    from trainguard.tracking import require_tracking_store

    require_tracking_store()
    lineage = model_lineage(args.model, args.version)
    if args.format == "json":
        print(json.dumps(lineage, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        from trainguard.i18n import resolve

        print(lineage_text(lineage, mlflow.get_tracking_uri(), resolve()))
    return EXIT_PASS


def _export(args: argparse.Namespace) -> int:
    from trainguard.export.bundle import export_bundle
    from trainguard.tracking import require_tracking_store

    require_tracking_store()
    from trainguard.progress import Progress

    # report.html is written in --lang / TRAINGUARD_LANGUAGE (export_bundle resolves it).
    result = export_bundle(
        args.model,
        args.version,
        args.out,
        overwrite=args.overwrite,
        progress=Progress(quiet=args.quiet, phases=3),
    )
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
