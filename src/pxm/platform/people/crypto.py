"""PHI sealing at rest: AES-256-GCM per value, keyed HMAC blind indexes for exact lookups.

The key file lives outside the database (``Settings.phi_key_path``). It holds 64 random bytes:
the first 32 seal values, the last 32 key the HMAC index. A sealed value is
``version(1) || nonce(12) || ciphertext+tag``; the column name is bound in as associated data,
so a value copied into another column does not open.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import LargeBinary, TypeDecorator

_VERSION = b"\x01"


class PHIKeyError(RuntimeError):
    pass


class PHIKeyring:
    def __init__(self, key_material: bytes) -> None:
        if len(key_material) != 64:
            raise PHIKeyError("PHI key file must hold exactly 64 bytes")
        self._aead = AESGCM(key_material[:32])
        self._index_key = key_material[32:]

    def seal(self, value: str, context: str) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, value.encode("utf-8"), context.encode())

    def open(self, blob: bytes, context: str) -> str:
        if not blob or blob[:1] != _VERSION:
            raise PHIKeyError("sealed value has an unknown format")
        return self._aead.decrypt(blob[1:13], blob[13:], context.encode()).decode("utf-8")

    def index(self, value: str, purpose: str) -> str:
        normalized = " ".join(value.strip().lower().split())
        return hmac.new(self._index_key, f"{purpose}:{normalized}".encode(), hashlib.sha256).hexdigest()


_keyring: PHIKeyring | None = None


def ensure_key_file(path: Path) -> bytes:
    """Read the key file, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    material = secrets.token_bytes(64)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(material)
    return material


def configure_keyring(path: Path) -> PHIKeyring:
    global _keyring
    _keyring = PHIKeyring(ensure_key_file(path))
    return _keyring


def keyring() -> PHIKeyring:
    if _keyring is None:
        raise PHIKeyError("PHI keyring not configured; call configure_keyring(settings.phi_key_path)")
    return _keyring


def blind_index(value: str, purpose: str) -> str:
    return keyring().index(value, purpose)


class Sealed(TypeDecorator[str]):
    """A string column stored as AES-GCM ciphertext; ``context`` names the column."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, context: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Any) -> bytes | None:
        if value is None:
            return None
        return keyring().seal(str(value), self.context)

    def process_result_value(self, value: bytes | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return keyring().open(bytes(value), self.context)
