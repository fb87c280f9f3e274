"""KioskLockout: one count of wrong PINs for the whole kiosk, kept across Cancel and across restarts.

Five wrong PINs in a row lock every PIN prompt (closing the kiosk, its
settings, `emolens kiosk --set-pin`) for 30 s; the next five for 1 min, then
5 min, 15 min, and an hour from then on. The right PIN resets it. The state is
saved in the settings file beside the PIN's hash and signed with a key drawn
from that hash, so a hand-edited or cut record is evident: it reads as locked
for the longest step, never as unlocked. The PIN guards the screen against
passers-by, not the machine against its operator: the account that owns the
settings file can reset the PIN and the lockout (`emolens kiosk --forget-pin`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

TRIES = 5
BACKOFF_S = (30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass
class LockoutState:
    failures: int = 0  # wrong PINs since the last lock or the last right one
    locks: int = 0  # locks since the last right PIN: the next lasts BACKOFF_S[locks]
    locked_until: float = 0.0  # wall-clock seconds (time.time), so a restart keeps it


class LockoutRecordStore(Protocol):
    """Where the record lives: a text value beside the PIN's hash (PreferencesStore is one)."""

    def lockout_record(self) -> str: ...
    def save_lockout_record(self, record: str) -> None: ...


class KioskLockout:
    def __init__(self, store: LockoutRecordStore, pin_hash: str, clock: Callable[[], float] = time.time):
        self._store = store
        self._key = hashlib.sha256(b"emolens kiosk lockout\0" + pin_hash.encode()).digest()
        self._clock = clock
        self.tampered = False
        self.state = self._load()

    # --- the record ------------------------------------------------------------------------------
    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def _load(self) -> LockoutState:
        record = self._store.lockout_record()
        if not record:
            return LockoutState()
        try:
            body, signature = record.rsplit("|", 1)
            if not hmac.compare_digest(self._sign(body), signature):
                raise ValueError("signature")
            state = LockoutState(**json.loads(body))
        except (ValueError, TypeError):
            self.tampered = True
            state = LockoutState(locks=len(BACKOFF_S), locked_until=self._clock() + BACKOFF_S[-1])
            self._save(state)
        # a clock set back does not stretch a lock beyond its step
        longest = BACKOFF_S[min(max(state.locks - 1, 0), len(BACKOFF_S) - 1)]
        state.locked_until = min(state.locked_until, self._clock() + longest)
        return state

    def _save(self, state: LockoutState) -> None:
        body = json.dumps(asdict(state), sort_keys=True)
        self._store.save_lockout_record(f"{body}|{self._sign(body)}")

    # --- the PIN prompts -------------------------------------------------------------------------
    def remaining_s(self) -> float:
        """Seconds until a PIN may be tried again; 0 when it may be now."""
        return max(0.0, self.state.locked_until - self._clock())

    def wrong(self) -> float:
        """Counts a wrong PIN; the seconds of the lock it starts (0 when it starts none)."""
        state = self.state
        state.failures += 1
        lock = 0.0
        if state.failures >= TRIES:
            lock = BACKOFF_S[min(state.locks, len(BACKOFF_S) - 1)]
            state.failures = 0
            state.locks += 1
            state.locked_until = self._clock() + lock
        self._save(state)
        return lock

    def right(self) -> None:
        self.state = LockoutState()
        self.tampered = False
        self._save(self.state)

    def tries_left(self) -> int:
        return TRIES - self.state.failures


def wait_words(seconds: float) -> str:
    """`42 s`, `5 min`, `1 h`: a wait as a person says it."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds / 3600)} h"
