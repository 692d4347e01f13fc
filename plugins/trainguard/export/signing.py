"""Signing and verifying a provenance bundle: the manifest, its signature, the keys.

``MANIFEST.sha256`` lists the sha256 of every file (``sha256sum -c`` reads it);
``MANIFEST.sig`` signs the manifest with Ed25519 (``TRAINGUARD_EXPORT_SIGNING_KEY``, a PEM
private key; auditors verify with the public key) or, without one, HMAC-SHA256 under the
shared secret ``TRAINGUARD_EXPORT_KEY``. ``verify_bundle`` names every changed, added or
missing file and a signature that does not match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainguard.exceptions import ExportError
from trainguard.settings import env

MANIFEST = "MANIFEST.sha256"
SIGNATURE = "MANIFEST.sig"
HMAC_KEY_ENV = "TRAINGUARD_EXPORT_KEY"
ED25519_KEY_ENV = "TRAINGUARD_EXPORT_SIGNING_KEY"  # path to an Ed25519 private key (PEM)


@dataclass(frozen=True)
class Signer:
    algorithm: str  # "hmac-sha256" | "ed25519"
    key_id: str
    secret: Any

    def sign(self, message: bytes) -> str:
        if self.algorithm == "hmac-sha256":
            return hmac.new(self.secret, message, hashlib.sha256).hexdigest()
        return self.secret.sign(message).hex()  # Ed25519 signatures are deterministic


def _hmac_key_id(key: bytes) -> str:
    return hmac.new(key, b"trainguard export key id", hashlib.sha256).hexdigest()[:16]


def _public_key_id(public_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _read_key_file(path: str, kind: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ExportError(f"cannot read the {kind} key {path}: {exc.strerror}") from None


def signer_from_env() -> Signer:
    """The configured signing key: Ed25519 (``TRAINGUARD_EXPORT_SIGNING_KEY``) or HMAC."""
    key_path = env(ED25519_KEY_ENV)
    if key_path:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        try:
            private = serialization.load_pem_private_key(
                _read_key_file(key_path, "Ed25519 private"), password=None
            )
        except ValueError as exc:
            raise ExportError(f"{key_path} is not a PEM private key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise ExportError(f"{key_path} is not an Ed25519 private key")
        return Signer("ed25519", _public_key_id(private.public_key()), private)
    secret = env(HMAC_KEY_ENV)
    if not secret:
        raise ExportError(
            f"no signing key: set {ED25519_KEY_ENV} to an Ed25519 private key (PEM; "
            f"`trainguard export keygen` makes one) or {HMAC_KEY_ENV} to a shared secret"
        )
    return Signer("hmac-sha256", _hmac_key_id(secret.encode()), secret.encode())


def generate_keypair(private_out: Path) -> Path:
    """Write a new Ed25519 key pair: the private key (mode 600) and ``<name>.pub``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if private_out.exists():
        raise ExportError(f"{private_out} exists; refusing to overwrite a key")
    private = Ed25519PrivateKey.generate()
    private_out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    public_out = private_out.with_name(private_out.name + ".pub")
    public_out.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return public_out


def manifest_text(files: dict[str, bytes]) -> bytes:
    lines = [
        f"{hashlib.sha256(content).hexdigest()}  {name}" for name, content in sorted(files.items())
    ]
    return ("\n".join(lines) + "\n").encode()


def verify_bundle(
    folder: str | Path, *, hmac_key: str | None = None, public_key: str | Path | None = None
) -> list[str]:
    """Every problem with the bundle at ``folder`` (empty when intact and signed)."""
    folder = Path(folder)
    manifest_path, signature_path = folder / MANIFEST, folder / SIGNATURE
    if not folder.is_dir():
        raise ExportError(f"{folder} is not a folder")
    for path in (manifest_path, signature_path):
        if not path.exists():
            return [f"{path.name}: missing"]
    manifest = manifest_path.read_bytes()
    problems = []
    listed: dict[str, str] = {}
    for number, line in enumerate(manifest.decode("utf-8", "replace").splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            problems.append(f"{MANIFEST}: line {number} is not '<sha256>  <file>'")
            continue
        listed[name] = digest
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    for name in sorted(present - listed.keys() - {MANIFEST, SIGNATURE}):
        problems.append(f"{name}: not in the manifest (added after signing)")
    for name, digest in sorted(listed.items()):
        path = folder / name
        if name not in present:
            problems.append(f"{name}: listed in the manifest but missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{name}: content changed (sha256 differs from the manifest)")
    problems += _verify_signature(manifest, signature_path, hmac_key, public_key)
    return problems


def signature_matches(
    algorithm: str,
    value: str,
    message: bytes,
    *,
    hmac_key: str | None = None,
    public_key: str | Path | None = None,
) -> bool:
    """Whether ``value`` signs ``message`` (HMAC under the shared secret, or Ed25519 under
    the public key); raises ``ExportError`` when the key to check it is missing."""
    if algorithm == "hmac-sha256":
        secret = hmac_key or env(HMAC_KEY_ENV)
        if not secret:
            raise ExportError(f"the bundle is HMAC-signed: set {HMAC_KEY_ENV} to verify it")
        expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, str(value))
    if algorithm == "ed25519":
        from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        if public_key is None:
            raise ExportError("the bundle is Ed25519-signed: pass --public-key PEM to verify it")
        expected = "expected the provider's Ed25519 public key (trainguard export keygen)"
        try:
            key = serialization.load_pem_public_key(_read_key_file(str(public_key), "public"))
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ExportError(f"{public_key} is not a PEM public key; {expected}") from None
        if not isinstance(key, Ed25519PublicKey):
            kind = type(key).__name__.removeprefix("_").replace("PublicKey", "")
            raise ExportError(f"{public_key} is a {kind} public key; {expected}")
        try:
            key.verify(bytes.fromhex(str(value)), message)
        except (InvalidSignature, ValueError):
            return False
        return True
    raise ExportError(f"unknown signature algorithm '{algorithm}'")


def _verify_signature(
    manifest: bytes, signature_path: Path, hmac_key: str | None, public_key: str | Path | None
) -> list[str]:
    try:
        signature = json.loads(signature_path.read_text(encoding="utf-8"))
        algorithm, value = signature["algorithm"], signature["signature"]
    except (ValueError, KeyError, TypeError):
        return [f"{SIGNATURE}: not a trainguard signature file"]
    if algorithm not in ("hmac-sha256", "ed25519"):
        return [f"{SIGNATURE}: unknown algorithm '{algorithm}'"]
    if public_key is not None and algorithm != "ed25519":
        # A downgrade: anyone who holds the shared HMAC secret can sign such a bundle.
        downgrade = f"signed {algorithm}, not ed25519: a public key verifies only an Ed25519"
        return [f"{SIGNATURE}: {downgrade} signature"]
    matches = signature_matches(
        algorithm, value, manifest, hmac_key=hmac_key, public_key=public_key
    )
    if not matches:
        return [f"{SIGNATURE}: the signature does not match {MANIFEST} under this key"]
    return []
