"""The one exception type for bad input from the user."""


class UserError(Exception):
    """Bad input from the user: reported as one line, never as a traceback."""
