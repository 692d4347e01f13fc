"""The bundle's manifest and signature: any change to any file is caught and named.

The files here are synthetic (the real bundle is tested in the integration suite); what is
under test is the manifest, HMAC and Ed25519 signing and ``trainguard export verify``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from trainguard.exceptions import ExportError
from trainguard.export.bundle import (
    MANIFEST,
    SIGNATURE,
    Signer,
    dumps,
    generate_keypair,
    manifest_text,
    signer_from_env,
    verify_bundle,
)

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit

FILES = {
    "disclosure.json": dumps({"model": "m", "version": "1"}),
    "checks.csv": b"check,status\nsource.licence,pass\n",
    "report.html": "<p>报告</p>\n".encode(),
}


def write_bundle(folder: Path, signer: Signer) -> Path:
    folder.mkdir()
    for name, content in FILES.items():
        (folder / name).write_bytes(content)
    manifest = manifest_text(FILES)
    (folder / MANIFEST).write_bytes(manifest)
    (folder / SIGNATURE).write_bytes(
        dumps(
            {
                "algorithm": signer.algorithm,
                "key_id": signer.key_id,
                "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
                "signature": signer.sign(manifest),
            }
        )
    )
    return folder


@pytest.fixture
def hmac_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("TRAINGUARD_EXPORT_SIGNING_KEY", raising=False)
    monkeypatch.setenv("TRAINGUARD_EXPORT_KEY", "unit-test-secret")
    return write_bundle(tmp_path / "bundle", signer_from_env())


def test_an_intact_bundle_verifies(hmac_bundle: Path) -> None:
    assert verify_bundle(hmac_bundle) == []
    assert (hmac_bundle / MANIFEST).read_text().count("\n") == len(FILES)


@pytest.mark.parametrize("name", [*FILES, MANIFEST])
def test_one_changed_byte_in_any_file_is_caught_and_named(hmac_bundle: Path, name: str) -> None:
    path = hmac_bundle / name
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))
    problems = verify_bundle(hmac_bundle)
    assert problems
    named = name if name != MANIFEST else SIGNATURE  # a changed manifest breaks the signature
    assert any(p.startswith(named) for p in problems), problems


def test_added_removed_files_and_a_wrong_key_are_caught(hmac_bundle: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    shutil.copytree(hmac_bundle, extra)
    (extra / "notes.txt").write_text("added later")
    assert verify_bundle(extra) == ["notes.txt: not in the manifest (added after signing)"]
    (hmac_bundle / "checks.csv").unlink()
    assert verify_bundle(hmac_bundle) == ["checks.csv: listed in the manifest but missing"]
    (hmac_bundle / "checks.csv").write_bytes(FILES["checks.csv"])
    assert verify_bundle(hmac_bundle, hmac_key="another-secret") == [
        f"{SIGNATURE}: the signature does not match {MANIFEST} under this key"
    ]


def test_ed25519_bundles_verify_with_the_public_key_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = tmp_path / "keys" / "signing.pem"
    public = generate_keypair(private)
    assert private.stat().st_mode & 0o077 == 0  # the private key is readable by its owner only
    monkeypatch.setenv("TRAINGUARD_EXPORT_SIGNING_KEY", str(private))
    signer = signer_from_env()
    assert signer.algorithm == "ed25519"
    bundle = write_bundle(tmp_path / "bundle", signer)
    assert verify_bundle(bundle, public_key=public) == []
    other = generate_keypair(tmp_path / "other.pem")
    assert verify_bundle(bundle, public_key=other) != []
    with pytest.raises(ExportError, match="--public-key"):
        verify_bundle(bundle)
    signature = json.loads((bundle / SIGNATURE).read_text())
    # Ed25519 is deterministic: signing the same manifest again gives the same bytes.
    assert signer.sign((bundle / MANIFEST).read_bytes()) == signature["signature"]


def test_no_key_configured_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAINGUARD_EXPORT_KEY", raising=False)
    monkeypatch.delenv("TRAINGUARD_EXPORT_SIGNING_KEY", raising=False)
    with pytest.raises(ExportError, match="TRAINGUARD_EXPORT_SIGNING_KEY"):
        signer_from_env()


def test_export_verify_cli_exits_1_naming_the_changed_file(hmac_bundle: Path) -> None:
    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trainguard.cli", "export", "verify", str(hmac_bundle)],
            capture_output=True,
            text=True,
            check=False,
        )

    assert verify().returncode == 0
    (hmac_bundle / "report.html").write_bytes(FILES["report.html"] + b" ")
    done = verify()
    assert done.returncode == 1
    assert "report.html: content changed" in done.stderr and "Traceback" not in done.stderr


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainguard.cli", *args], capture_output=True, text=True, check=False
    )


def test_a_public_key_accepts_only_an_ed25519_signature_that_verifies_with_it(
    hmac_bundle: Path, tmp_path: Path
) -> None:
    """Issue 18.5: an auditor who holds the provider's public key must not be handed an
    HMAC-signed bundle (anyone with the shared secret can make one): a downgrade fails."""
    public = generate_keypair(tmp_path / "keys" / "provider.pem")
    refused = "signed hmac-sha256, not ed25519: a public key verifies only an Ed25519 signature"
    assert verify_bundle(hmac_bundle, public_key=public) == [f"{SIGNATURE}: {refused}"]
    done = _cli("export", "verify", str(hmac_bundle), "--public-key", str(public))
    assert done.returncode == 1 and "hmac-sha256" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("kind", ["rsa", "ec", "not-a-key"])
def test_a_public_key_of_another_type_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    monkeypatch.setenv("TRAINGUARD_EXPORT_SIGNING_KEY", str(tmp_path / "signing.pem"))
    generate_keypair(tmp_path / "signing.pem")
    bundle = write_bundle(tmp_path / "bundle", signer_from_env())
    key_file = tmp_path / f"{kind}.pub"
    if kind == "not-a-key":
        key_file.write_text("-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n")
    else:
        private = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if kind == "rsa"
            else ec.generate_private_key(ec.SECP256R1())
        )
        key_file.write_bytes(
            private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    done = _cli("export", "verify", str(bundle), "--public-key", str(key_file))
    assert done.returncode == 2, done.stderr
    assert str(key_file) in done.stderr and "Ed25519" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_overwrite_replaces_only_a_trainguard_bundle(tmp_path: Path) -> None:
    """Issue 18.5: `export --overwrite` into a folder that is not a bundle (a home folder, a
    dataset) must refuse, naming it, and leave every file in place."""
    from trainguard.export.bundle import require_replaceable

    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    with pytest.raises(ExportError, match=r"thesis.*not a trainguard bundle"):
        require_replaceable(precious)
    assert (precious / "chapter1.tex").read_text() == "years of work"
    bundle = write_bundle(tmp_path / "old-bundle", Signer("hmac-sha256", "k", b"secret"))
    require_replaceable(bundle)  # a bundle (manifest and signature) may be replaced
    require_replaceable(tmp_path / "new")  # so may nothing
    empty = tmp_path / "empty"
    empty.mkdir()
    require_replaceable(empty)
