"""Which folders ``busmtl data prepare`` and ``busmtl data phantoms`` may replace.

Both write their output folder as a whole (:func:`busmtl.io.atomic_dir`), which replaces
whatever was there. Before that, :func:`check_output` allows only:

* a path that does not exist yet, or an empty folder;
* the command's own earlier output: a folder holding the command's marker file (a JSON object
  whose ``"written_by"`` names the command) and nothing but the names that command writes;
* anything else only with ``force=True`` (``--force``).

An output equal to a source, inside it, or holding it is refused always, ``force`` or not:
replacing it would delete the data it is made from. An existing file is refused always (the
output is a folder).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from pathlib import Path

from busmtl.data.errors import DataError


def read_marker(folder: Path, marker: str) -> dict | None:
    """The JSON object in ``folder/marker``, or None when it is absent or not an object."""
    try:
        value = json.loads((folder / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _related(out: Path, source: Path) -> str | None:
    """How ``out`` and ``source`` overlap ("is", "is inside", "holds"), or None."""
    if out == source:
        return "is"
    if source in out.parents:
        return "is inside"
    if out in source.parents:
        return "holds"
    return None


def check_output(
    out: str | Path,
    *,
    command: str,
    marker: str,
    expected: Iterable[str],
    sources: Iterable[str | Path] = (),
    force: bool = False,
    legacy_keys: tuple[str, ...] = (),
) -> Path:
    """Refuse to replace ``out`` unless it is absent, empty or ``command``'s own output.

    ``marker`` is the file whose ``"written_by"`` equals ``command`` in the command's output;
    ``expected`` are the glob patterns of the top-level names it writes (its own output holds
    no others). A marker without ``"written_by"`` but with all of ``legacy_keys`` counts as the
    command's too (written by a version before the marker named its writer). Raises
    :class:`DataError` (one line naming the folder and what to do).
    """
    target = Path(out).expanduser()
    resolved = target.resolve()
    for source in sources:
        where = _related(resolved, Path(source).expanduser().resolve())
        if where is not None:
            raise DataError(
                f"--out {target} {where} the source {source}: writing there would delete the "
                f"data it is made from; give a new folder outside {source}"
            )
    if not target.exists():
        if target.is_symlink():
            raise DataError(f"--out {target} is a broken link: remove it or give another folder")
        return target
    if not target.is_dir():
        raise DataError(f"--out {target} is a file, not a folder: give a new folder to write")
    entries = sorted(p.name for p in target.iterdir())
    if not entries or force:
        return target
    info = read_marker(target, marker)
    own = info is not None and (
        info.get("written_by") == command
        or ("written_by" not in info and bool(legacy_keys) and all(k in info for k in legacy_keys))
    )
    patterns = tuple(expected)
    foreign = [n for n in entries if not any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    if own and not foreign:
        return target
    if own:
        reason = f"holds files `{command}` did not write ({', '.join(foreign[:3])})"
    else:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        reason = f"exists and was not written by `{command}` (it holds {shown})"
    raise DataError(
        f"--out {target} {reason}: give a new folder, or add --force to replace it "
        "with all its contents"
    )
