"""The kiosk's PIN, stored only as a salted PBKDF2 hash, so the settings file never holds it."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from engines.errors import EmolensError

ITERATIONS = 200_000
SCHEME = "pbkdf2_sha256"


class PinError(EmolensError):
    """A PIN that cannot be used (too short, not digits) or a stored hash that cannot be read."""


def check_new_pin(pin: str) -> str:
    """The PIN if it is 4 to 12 digits; a PinError saying why otherwise."""
    if not pin.isdigit() or not 4 <= len(pin) <= 12:
        raise PinError("a kiosk PIN is 4 to 12 digits")
    return pin


def hash_pin(pin: str, iterations: int = ITERATIONS) -> str:
    check_new_pin(pin)
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"{SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != SCHEME:
            raise ValueError(scheme)
        expected = bytes.fromhex(digest)
        actual = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(iterations))
    except ValueError as exc:
        raise PinError(f"the stored kiosk PIN is not a {SCHEME} hash; set it again: emolens kiosk --set-pin") from exc
    return hmac.compare_digest(actual, expected)
