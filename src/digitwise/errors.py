"""The one exception type for bad input from the user, and how messages quote it."""

import unicodedata


class UserError(Exception):
    """Bad input from the user: reported as one line, never as a traceback."""


# control and format characters, lone surrogates, line and paragraph separators
NOT_IN_A_LINE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


QUOTED = 200  # characters of a value quoted whole in a message (``printable(at_most=...)``)


def printable(text: str, *, at_most: int | None = None) -> str:
    """``text`` with control characters escaped (``\\x00``, ``\\n``), for quoting input in a
    message: a raw newline would split the one error line, a NUL or an escape sequence
    would be invisible or drive the terminal, half a surrogate pair cannot be written.
    With ``at_most``, longer text is cut to its start, with its length (a value read
    from a file may be megabytes long)."""
    shown = text if at_most is None or len(text) <= at_most else text[: at_most // 2]
    escaped = "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in NOT_IN_A_LINE
        else ch
        for ch in shown
    )
    return escaped if shown is text else f"{escaped}... ({len(text):,} characters)"
