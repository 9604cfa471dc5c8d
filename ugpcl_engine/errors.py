"""User-facing error types.

Every error a user can cause (a bad file, a wrong option) is an ``InputError``: its message says
what is wrong and what to do. The CLI prints it as one line and exits with code 2; the app shows
it in a dialog. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: the message is shown to the user as is.

    Args:
        message: one sentence saying what is wrong and what to do.
    """


class CancelledError(RuntimeError):
    """Raised inside long work when the user cancelled it."""
