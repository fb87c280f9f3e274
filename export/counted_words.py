"""`counted(2, "input")` -> "2 inputs": a count with its noun in the right number, for every page and line."""

from __future__ import annotations


def counted(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"
