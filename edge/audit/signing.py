"""Ed25519 signatures over canonical JSON, and the unit's own device key.

Two parties sign here: an agency signs its queries (edge.query), and the unit signs what it
publishes about its audit log (chain heads, audit bundles) with its device key, so that an
agency or an auditor holding the unit's pinned public key can tell a head or a bundle the unit
made from one made up later. Both sign the canonical JSON of an object: keys sorted, no
insignificant whitespace, UTF-8, so signer and checker agree on content, not formatting.

The device key is made on the unit the first time sharing starts (or `alpr-edge keys device`
runs), in the sharing data_dir, owner-only (0600), and never leaves it: only the public half is
printed, sent in heads and written into bundles.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.errors import InputError

DEVICE_KEY_FILE = "device-key.pem"
HEAD_SIGNATURE_SCHEMA = "alpr-edge/audit-head-signature/1"


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """The bytes a signature covers."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(document: dict[str, Any], key: Ed25519PrivateKey) -> str:
    """The base64 signature of an object."""
    return base64.b64encode(key.sign(canonical_bytes(document))).decode("ascii")


def signature_is_valid(document: dict[str, Any], signature: str, key: Ed25519PublicKey) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, canonical_bytes(document))
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def public_key_text(key: Ed25519PublicKey) -> str:
    """How a public key is written (allow-list, pins): base64 of the raw 32 bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """The inverse of `public_key_text`; raises InputError naming what is wrong."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"not a base64 raw Ed25519 public key: {exc}") from None


def key_id(public_text: str) -> str:
    """A short name for a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    return hashlib.sha256(base64.b64decode(public_text)).hexdigest()[:16]


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """PEM, created owner-only (0600) and never over an existing file."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def load_private_key(path: Path, what: str = "query key") -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise InputError(f"{what} {path}: file not found") from None
    except (ValueError, TypeError) as exc:
        raise InputError(f"{what} {path}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{what} {path}: not an Ed25519 key")
    return key


@dataclass(frozen=True)
class DeviceKey:
    """The unit's signing key, with its public half as pinned and its short id."""

    private: Ed25519PrivateKey
    public_text: str
    key_id: str

    def sign(self, document: dict[str, Any]) -> str:
        return sign(document, self.private)


def device_key(data_dir: Path) -> DeviceKey:
    """The unit's device key in `data_dir`, made there on first use (0600)."""
    path = data_dir / DEVICE_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Another process may make it first: then use that one.
        with contextlib.suppress(FileExistsError):
            write_private_key(path, Ed25519PrivateKey.generate())
    private = load_private_key(path, "device key")
    public_text = public_key_text(private.public_key())
    return DeviceKey(private, public_text, key_id(public_text))


def head_document(unit_id: str, seq: int, row_hash: str) -> dict[str, Any]:
    """What a chain-head signature covers: the unit and the head, nothing that varies by copy."""
    return {"schema": HEAD_SIGNATURE_SCHEMA, "unit": unit_id, "seq": seq, "hash": row_hash}


def head_signature_is_valid(
    unit_id: str, seq: int, row_hash: str, signature: str, public_text: str
) -> bool:
    """Whether `signature` is the device key's over this head (for agencies and `audit prove`)."""
    try:
        key = public_key_from_text(public_text)
    except InputError:
        return False
    return signature_is_valid(head_document(unit_id, seq, row_hash), signature, key)
