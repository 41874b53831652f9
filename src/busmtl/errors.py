"""The errors that mean "the user's input is wrong" (printed as one line, exit code 2).

* :class:`UserError`: a bad command-line value, a missing tool, a failed book build.
* :class:`busmtl.data.errors.DataError`: a missing or corrupt file, a layout that is not BUSI's.

Library code raises these (or ``ValueError`` / ``FileNotFoundError`` for bad arguments); the
command line (:mod:`busmtl.cli`) turns them into one line on stderr without a traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit code 2, no traceback."""
