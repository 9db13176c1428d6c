"""The console's local accounts, sessions and login rate limits, in one small SQLite file.

Accounts live on the unit (no directory server to reach from a roadside box). Passwords are
hashed with scrypt, a memory-hard KDF from the standard library, with a random salt; the cost
parameters are stored with each hash so they can be raised later without locking anyone out.
Sessions are server-side rows keyed by the SHA-256 of a random token: a stolen copy of the file
does not give a usable cookie, and logging out or expiry ends a session for good.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from edge.errors import InputError

ACCOUNTS_FILE = "console.sqlite"
ROLES = ("admin", "operator", "auditor", "viewer")
# scrypt cost: n=2**14, r=8 takes 16 MiB and about 50 ms per check on a Pi 4-class core.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_SECONDS = 8 * 3600
MIN_PASSWORD = 10
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Session:
    user: str
    role: str
    csrf: str
    expires_at: float


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash`, hex encoded."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 << 20
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(),
        salt=bytes.fromhex(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        maxmem=64 << 20,
    )
    return hmac.compare_digest(candidate.hex(), digest)


# A dummy hash checked for unknown names, so that a missing account costs as much time as a
# wrong password and login times do not tell which names exist.
_DUMMY_HASH = hash_password("not a password", salt=b"\0" * 16)


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Users and sessions; one connection shared by the console's threads."""

    def __init__(self, path: Path, *, session_seconds: int = SESSION_SECONDS) -> None:
        self.path = Path(path)
        self.session_seconds = session_seconds
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        # Only the owner may read the hashes.
        self.path.chmod(0o600)

    def close(self) -> None:
        self._conn.close()

    def add_user(self, name: str, role: str, password: str) -> None:
        if not name or set(name) - _NAME_CHARS or len(name) > 64:
            raise InputError(
                f"user name {name!r}: use lowercase letters, digits, '.', '-' and '_' (at most 64)"
            )
        if role not in ROLES:
            raise InputError(f"role {role!r}: one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise InputError(f"the password must have at least {MIN_PASSWORD} characters")
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT INTO users VALUES (?, ?, ?, ?)",
                    (name, role, hash_password(password), time.time()),
                )
            except sqlite3.IntegrityError:
                raise InputError(f"user {name!r} exists already") from None

    def remove_user(self, name: str) -> None:
        """Remove an account; its sessions end with it."""
        with self._lock:
            cursor = self._conn.execute("DELETE FROM users WHERE name = ?", (name,))
        if cursor.rowcount == 0:
            raise InputError(f"no user {name!r}")

    def users(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._conn.execute("SELECT name, role FROM users ORDER BY name"))

    def authenticate(self, name: str, password: str) -> str | None:
        """The user's role when the password is right, else None (same cost either way)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT role, password FROM users WHERE name = ?", (name,)
            ).fetchone()
        ok = check_password(password, row[1] if row else _DUMMY_HASH)
        return row[0] if row and ok else None

    def open_session(self, name: str) -> tuple[str, Session]:
        """A new session for `name`: the cookie token (kept only as a hash here) and the row."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        csrf = secrets.token_urlsafe(32)
        with self._lock:
            self._conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            self._conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (_token_key(token), name, csrf, now, now + self.session_seconds),
            )
            (role,) = self._conn.execute(
                "SELECT role FROM users WHERE name = ?", (name,)
            ).fetchone()
        return token, Session(name, role, csrf, now + self.session_seconds)

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            row = self._conn.execute(
                "SELECT sessions.name, users.role, csrf, expires_at FROM sessions"
                " JOIN users ON users.name = sessions.name WHERE token_sha256 = ?",
                (_token_key(token),),
            ).fetchone()
        if row is None or row[3] < time.time():
            return None
        return Session(*row)

    def close_session(self, token: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_token_key(token),))


class LoginLimiter:
    """At most `attempts` failed logins per `window_s` for one user name and for one client
    address; past that, logins are refused before any password is checked.

    Kept in memory: a restart clears it, which costs an attacker a restart of the unit each time.
    """

    def __init__(self, attempts: int = 5, window_s: float = 300.0) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        # Per name and address: when a refusal was last audited, and refusals since then.
        self._refusals: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] < now - self.window_s:
            failures.popleft()
        return failures

    def blocked(self, user: str, address: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            return any(
                len(self._recent(key, now)) >= self.attempts
                for key in (f"user:{user}", f"addr:{address}")
            )

    def failed(self, user: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in (f"user:{user}", f"addr:{address}"):
                self._recent(key, now).append(now)

    def refusal_to_record(self, user: str, address: str, now: float | None = None) -> int | None:
        """For a refused login: None when a row for this name and address was written less
        than a window ago (the refusal is counted), else how many refusals went unrecorded
        since that row (write one now)."""
        now = time.monotonic() if now is None else now
        key = (user, address)
        with self._lock:
            last, unrecorded = self._refusals.get(key, (float("-inf"), 0))
            if now - last < self.window_s:
                self._refusals[key] = (last, unrecorded + 1)
                return None
            self._refusals[key] = (now, 0)
            if len(self._refusals) > 10_000:  # forget the oldest names and addresses
                for stale in sorted(self._refusals, key=lambda k: self._refusals[k][0])[:5000]:
                    del self._refusals[stale]
            return unrecorded

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{user}", None)
