"""The errors SPANDEX reports to its users.

Each carries a message meant for a person: what was wrong and, where possible, what to do.
The command line prints the message and exits non-zero; the GUI shows it in a dialog.
"""


class SpandexError(Exception):
    """Base class for every error SPANDEX reports to a user instead of a traceback."""


class AudioInputError(SpandexError):
    """An audio file or stream cannot be used (unreadable, empty, NaN samples, ...)."""


class ModelFileError(SpandexError):
    """A model file is missing, corrupt, truncated or does not describe a usable SDNN."""
