"""The error raised for problems with the user's data."""

from __future__ import annotations


class DataError(ValueError):
    """A problem with the user's data: a missing or corrupt file, a layout that is not BUSI's,
    a split made for another dataset.

    The message is one line that names the file or value and says what to do. It subclasses
    :class:`ValueError`, so ``busmtl``'s command line prints it without a traceback and exits 2.
    """


class DataWarning(UserWarning):
    """Something odd in the data that does not stop the work (e.g. empty masks, unknown folders)."""
