"""API keys: read or write access, loaded from an environment value and/or a file, kept only as hashes.

An entry is ``KEY:ROLE`` or ``sha256:HEX:ROLE`` (the key pre-hashed, so a keys file need hold no
plaintext); entries are separated by commas or newlines (so a key holds no comma); ``#`` starts a
comment (at the start of a line or after a space). Routers use
``dependencies=[Depends(require(Role.WRITE))]``, or the ready-made ``read_access`` / ``write_access`` in
a ``dependencies`` list; the app holds its keys in ``app.state.api_keys``. With no keys configured
every request is refused (the service fails closed).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fastapi import Depends, HTTPException, Request

_PREFIX = "sha256:"
_HEX = re.compile(r"[0-9a-f]{64}")
_COMMENT = re.compile(r"(^|\s)#.*$")


class Role(StrEnum):
    """What a key may do: ``read`` (GET) or ``write`` (place, cancel ...; write implies read)."""

    READ = "read"
    WRITE = "write"

    def allows(self, needed: Role) -> bool:
        """Whether a key with this role may do what ``needed`` requires."""
        return self is Role.WRITE or needed is Role.READ


def hash_key(key: str) -> str:
    """The stored form of a key: ``sha256:`` and the hex digest of its UTF-8 bytes."""
    return _PREFIX + hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    """A new random key (32 URL-safe characters, 192 bits)."""
    return secrets.token_urlsafe(24)


def _parse_entry(entry: str) -> tuple[str, Role]:
    """One entry as (hash, role); a ValueError saying what is wrong, never echoing the key."""
    secret, colon, role_text = entry.rpartition(":")
    if not colon:
        raise ValueError("expected KEY:ROLE or sha256:HEX:ROLE")
    try:
        role = Role(role_text.strip().lower())
    except ValueError:
        raise ValueError(f"unknown role {role_text.strip()!r} (expected read or write)") from None
    secret = secret.strip()
    if secret.startswith(_PREFIX):
        digest = secret.removeprefix(_PREFIX).lower()
        if not _HEX.fullmatch(digest):
            raise ValueError("bad sha256 hex (expected 64 hex digits after 'sha256:')")
        return _PREFIX + digest, role
    if not secret:
        raise ValueError("empty key")
    return hash_key(secret), role


def _merge_into(target: dict[str, Role], key_hash: str, role: Role) -> None:
    """Add one hash, refusing the same key with two roles."""
    if target.get(key_hash, role) is not role:
        raise ValueError(f"the same key is given both as {target[key_hash]} and as {role}")
    target[key_hash] = role


@dataclass(frozen=True)
class ApiKeys:
    """The accepted keys: their sha256 hashes and roles; no plaintext key is ever kept."""

    hashes: Mapping[str, Role] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hashes", MappingProxyType(dict(self.hashes)))

    def __reduce__(self) -> tuple[type[ApiKeys], tuple[dict[str, Role]]]:
        return ApiKeys, (dict(self.hashes),)  # a mappingproxy does not pickle or deepcopy by itself

    def __repr__(self) -> str:
        writers = sum(role is Role.WRITE for role in self.hashes.values())
        return f"ApiKeys({len(self.hashes)} keys: {writers} write, {len(self.hashes) - writers} read)"

    def __bool__(self) -> bool:
        """Whether any key is configured."""
        return bool(self.hashes)

    @classmethod
    def parse(cls, text: str, source: str) -> ApiKeys:
        """Keys from text; a ValueError names the source, the entry number and line, and the fault."""
        hashes: dict[str, Role] = {}
        number = 0
        for line_no, line in enumerate(text.splitlines(), start=1):
            for entry in _COMMENT.sub("", line).split(","):
                if not entry.strip():
                    continue
                number += 1
                try:
                    _merge_into(hashes, *_parse_entry(entry))
                except ValueError as error:
                    raise ValueError(f"{source}: API key entry {number} (line {line_no}): {error}") from None
        return cls(hashes)

    @classmethod
    def load(cls, env_value: str | None, file: Path | None) -> ApiKeys:
        """Keys from an environment variable's value and a keys file, merged (either may be absent)."""
        keys = cls.parse(env_value, "environment") if env_value else cls()
        if file is not None:
            try:
                text = file.read_text(encoding="utf-8")
            except OSError as error:
                raise ValueError(f"{file}: cannot read the API keys file ({error.strerror})") from None
            keys = keys.merge(cls.parse(text, str(file)))
        return keys

    def merge(self, other: ApiKeys) -> ApiKeys:
        """Both sets of keys; a ValueError if one key has two roles."""
        hashes = dict(self.hashes)
        for key_hash, role in other.hashes.items():
            _merge_into(hashes, key_hash, role)
        return ApiKeys(hashes)

    def role_of(self, presented: str | None) -> Role | None:
        """The role of a presented key, or None; compares with every stored hash in constant time."""
        if not presented:
            return None
        wanted = hash_key(presented).encode()
        found: Role | None = None
        for key_hash, role in self.hashes.items():
            if hmac.compare_digest(wanted, key_hash.encode()):
                found = role
        return found

    def to_env(self) -> str:
        """The hashes as ``sha256:HEX:ROLE,...``: hand them to worker processes without any plaintext."""
        return ",".join(f"{key_hash}:{role}" for key_hash, role in sorted(self.hashes.items()))


def _presented_key(request: Request) -> str | None:
    """The key sent in ``X-API-Key`` or ``Authorization: Bearer <key>``."""
    if key := request.headers.get("x-api-key"):
        return key.strip()
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def require(role: Role) -> Callable[[Request], Awaitable[Role]]:
    """A FastAPI dependency admitting requests whose key has ``role``: 401 without a known key, else 403."""

    async def check_api_key(request: Request) -> Role:
        keys: ApiKeys = getattr(request.app.state, "api_keys", None) or ApiKeys()
        presented = _presented_key(request)
        granted = keys.role_of(presented)
        if granted is None:
            why = "unknown API key" if presented else "missing API key (X-API-Key or Authorization: Bearer)"
            raise HTTPException(401, detail=why, headers={"WWW-Authenticate": "Bearer"})
        if not granted.allows(role):
            raise HTTPException(403, detail=f"this API key has {granted} access; {role} access is needed")
        return granted

    return check_api_key


read_access: Any = Depends(require(Role.READ))
"""Dependency for read routes: ``APIRouter(dependencies=[read_access])``."""
write_access: Any = Depends(require(Role.WRITE))
"""Dependency for write routes: ``APIRouter(dependencies=[write_access])``."""
