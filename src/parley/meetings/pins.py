"""Meeting PINs are stored as salted scrypt hashes, never as they were given.

A 4-12 digit PIN has few possible values, so the hash is slow on purpose (scrypt, 16 MiB, ~40 ms):
call these from a worker thread. `verify_pin` compares in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1
_SCHEME = "scrypt"


def hash_pin(pin: str) -> str:
    """`scrypt$N$r$p$salt$hash`, base64 without padding."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(pin, salt, _N, _R, _P)
    return "$".join([_SCHEME, str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = _unb64(digest)
        actual = _scrypt(pin, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 2**20, dklen=32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
