"""The audit checkpoint signing key: Ed25519, from the environment or a file, never the database.

`REDLINE_AUDIT_SIGNING_KEY` holds the base64 raw 32-byte private key; `REDLINE_AUDIT_SIGNING_KEY_FILE`
names a file holding the same. Local and test settings create a per-checkout key file in the git-ignored
var/ folder when neither is set; production settings refuse to start without one (`load_signing_key`
raises ImproperlyConfigured on a missing or malformed key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from django.core.exceptions import ImproperlyConfigured


def _decode_private_key(text: str, source: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{source} is not base64.") from exc
    if len(raw) != 32:
        raise ImproperlyConfigured(f"{source} must be a base64 raw 32-byte Ed25519 private key.")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_signing_key(key: str, key_file: str) -> Ed25519PrivateKey:
    """The private key from the setting values (the inline key wins), or ImproperlyConfigured."""
    if key:
        return _decode_private_key(key, "REDLINE_AUDIT_SIGNING_KEY")
    if key_file:
        path = Path(key_file)
        try:
            text = path.read_text()
        except OSError as exc:
            message = f"REDLINE_AUDIT_SIGNING_KEY_FILE {path} cannot be read: {exc}"
            raise ImproperlyConfigured(message) from exc
        return _decode_private_key(text, f"REDLINE_AUDIT_SIGNING_KEY_FILE {path}")
    raise ImproperlyConfigured("REDLINE_AUDIT_SIGNING_KEY or REDLINE_AUDIT_SIGNING_KEY_FILE must be set.")


def audit_signing_key() -> Ed25519PrivateKey:
    """The configured signing key (read at each call, so a rotated file takes effect without restart)."""
    from django.conf import settings

    return load_signing_key(settings.REDLINE_AUDIT_SIGNING_KEY, settings.REDLINE_AUDIT_SIGNING_KEY_FILE)


def ensure_local_key_file(path: Path) -> Path:
    """Create a per-checkout signing key at `path` once (mode 0600). Safe when several processes race:
    the key is written to a private temporary file and hard-linked into place, so readers never see a
    partial file and the first writer wins."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(raw).decode() + "\n")
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_of(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """A short stable name for a key: hex of the first 8 bytes of SHA-256 of the raw public key."""
    return hashlib.sha256(public_key_bytes(key)).hexdigest()[:16]


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """A published public key (base64 raw 32 bytes), e.g. a regulator's own copy; ValueError if malformed."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error as exc:
        raise ValueError("the public key is not base64") from exc
    if len(raw) != 32:
        raise ValueError("the public key must be 32 raw bytes")
    return Ed25519PublicKey.from_public_bytes(raw)
