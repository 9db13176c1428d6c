"""Ed25519 query keys and the canonical bytes a query signature covers.

An agency signs each query with its private query key; the public half (base64 of the raw
32 bytes) sits in the agency's allow-list entry. The signature covers the canonical JSON of the
query object: keys sorted, no insignificant whitespace, UTF-8, so the signer and the unit need
not agree on formatting, only on content. Queries hold only strings, integers and null, whose
JSON spelling is unique.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.errors import InputError


def canonical_bytes(query: dict[str, Any]) -> bytes:
    """The bytes a query signature covers."""
    return json.dumps(query, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(query: dict[str, Any], key: Ed25519PrivateKey) -> str:
    """The base64 signature of a query object."""
    return base64.b64encode(key.sign(canonical_bytes(query))).decode("ascii")


def signature_is_valid(query: dict[str, Any], signature: str, key: Ed25519PublicKey) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, canonical_bytes(query))
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def public_key_text(key: Ed25519PublicKey) -> str:
    """How a public query key is written in the allow-list: base64 of the raw 32 bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_path: Path
    public_text: str


def generate_key_pair(private_path: Path) -> KeyPair:
    """Write a new private key (PEM, owner-only) and its `.pub` text; never overwrites a key."""
    public_path = private_path.with_name(private_path.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise InputError(f"{path} already exists; refusing to overwrite a key")
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public_text = public_key_text(key.public_key())
    public_path.write_text(public_text + "\n", encoding="ascii")
    return KeyPair(private_path, public_path, public_text)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise InputError(f"query key {path}: file not found") from None
    except (ValueError, TypeError) as exc:
        raise InputError(f"query key {path}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"query key {path}: not an Ed25519 key")
    return key
