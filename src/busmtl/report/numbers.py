"""How the book writes a signed number: a difference with its sign, and a true minus sign
(U+2212, not the hyphen), in prose and tables alike."""

from __future__ import annotations

#: The minus sign of the book's numbers.
MINUS = "\u2212"


def signed(value: float, digits: int = 3) -> str:
    """``+0.012`` or ``−0.013``: ``value`` with ``digits`` decimals and its sign."""
    return f"{value:+.{digits}f}".replace("-", MINUS)


def interval(low: float, high: float, digits: int = 3) -> str:
    """``[−0.041, +0.014]``: a 95 % interval of a difference."""
    return f"[{signed(low, digits)}, {signed(high, digits)}]"
