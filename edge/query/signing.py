"""Ed25519 query keys and the canonical bytes a query signature covers.

An agency signs each query with its private query key; the public half (base64 of the raw
32 bytes) sits in the agency's allow-list entry. The signature covers the canonical JSON of the
query object: keys sorted, no insignificant whitespace, UTF-8, so the signer and the unit need
not agree on formatting, only on content. Queries hold only strings, integers and null, whose
JSON spelling is unique.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# The canonical-JSON signing is shared with the unit's device key (audit heads, bundles).
from edge.audit.signing import (
    canonical_bytes,
    load_private_key,
    public_key_text,
    sign,
    signature_is_valid,
    write_private_key,
)
from edge.errors import InputError

__all__ = [
    "KeyPair",
    "canonical_bytes",
    "generate_key_pair",
    "load_private_key",
    "public_key_text",
    "sign",
    "signature_is_valid",
]


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
    write_private_key(private_path, key)
    public_text = public_key_text(key.public_key())
    public_path.write_text(public_text + "\n", encoding="ascii")
    return KeyPair(private_path, public_path, public_text)
