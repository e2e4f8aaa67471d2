"""Errors the mail side raises; the CLI maps them to messages and exit codes."""


class SeriesInputError(Exception):
    """The user's input (file, Message-ID, thread) cannot be used: exit 2."""


class SeriesFetchError(Exception):
    """The mail server or b4 failed (network, timeout): exit 3."""
