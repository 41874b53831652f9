"""How the book writes a signed number: a difference with its sign, and a true minus sign
(U+2212, not the hyphen), in prose and tables alike."""

from __future__ import annotations

#: The minus sign of the book's numbers.
MINUS = "\u2212"


#: Counts the book's prose spells out (a sentence never starts with a numeral).
_WORDS: tuple[str, ...] = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight",
                           "nine", "ten", "eleven", "twelve")


def count(n: int, capital: bool = False) -> str:
    """``n`` as a reader expects it in prose: a word up to twelve (``"no"`` for 0), digits above;
    ``capital`` for the start of a sentence."""
    word = _WORDS[n] if 0 <= n < len(_WORDS) else str(n)
    return word[:1].upper() + word[1:] if capital else word


def signed(value: float, digits: int = 3) -> str:
    """``+0.012`` or ``−0.013``: ``value`` with ``digits`` decimals and its sign."""
    return f"{value:+.{digits}f}".replace("-", MINUS)


def interval(low: float, high: float, digits: int = 3) -> str:
    """``[−0.041, +0.014]``: a 95 % interval of a difference."""
    return f"[{signed(low, digits)}, {signed(high, digits)}]"
