"""Errors a user can act on: reported as one line, without a traceback."""


class NnvisrError(Exception):
    """A problem with the model, the options or the input, explained in one line."""
