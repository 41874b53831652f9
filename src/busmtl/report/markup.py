"""Docstring text made fit for the book's Markdown: a Sphinx cross-reference role (``:class:``,
``:meth:``, ...) becomes inline code of its target. The book does not resolve the library's or
torchjd's Python objects, so a role left in a table would show as raw text."""

from __future__ import annotations

import re

#: A Sphinx role of the Python domain or a standard one: ``:class:`x```, ``:py:meth:`~a.b```,
#: ``:func:`title <target>```.
_ROLE = re.compile(r":(?:[a-z]+:)?[a-z]+:`(?P<body>[^`]+)`")


def roles_as_code(text: str) -> str:
    """``text`` with every Sphinx role as inline code of what Sphinx would show: the target
    (``~`` keeps its last component, a leading ``!`` is dropped) or the explicit title."""

    def code(match: re.Match[str]) -> str:
        body = match["body"].strip()
        titled = re.fullmatch(r"(?P<title>.+?)\s*<[^<>]+>", body)
        if titled:
            return f"`{titled['title']}`"
        body = body.lstrip("!")
        if body.startswith("~"):
            body = body[1:].rsplit(".", 1)[-1]
        return f"`{body}`"

    return _ROLE.sub(code, text)


__all__ = ["roles_as_code"]
