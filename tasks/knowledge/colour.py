"""When to colour OK/WARN/FAIL, and how (pure: the caller says whether the stream is a terminal).

Colour only on a terminal; never when ``NO_COLOR`` is set to a non-empty value (https://no-color.org:
"present and not an empty string, regardless of its value"), which wins over everything else;
``FORCE_COLOR`` (as Node and many CLIs read it) turns it on when piped, except ``0`` or ``false``;
a ``TERM=dumb`` terminal gets none.
"""

from __future__ import annotations

from collections.abc import Mapping

OK = "ok"
WARN = "warn"
FAIL = "fail"

_LABELS = {OK: "OK", WARN: "WARN", FAIL: "FAIL"}
_SGR = {OK: "32", WARN: "33", FAIL: "1;31"}  # green, yellow, bold red
RESET = "\x1b[0m"


def wants_colour(environ: Mapping[str, str], isatty: bool) -> bool:
    """Whether to colour a stream: ``isatty`` tells whether it is a terminal."""
    if environ.get("NO_COLOR", ""):
        return False
    force = environ.get("FORCE_COLOR")
    if force is not None:
        return force.strip().lower() not in ("0", "false")
    if environ.get("TERM") == "dumb":
        return False
    return isatty


def status_of(ok: bool, warn: bool = False) -> str:
    """``warn`` (advice, does not fail), else ``ok`` or ``fail``."""
    return WARN if warn else OK if ok else FAIL


def paint(text: str, status: str, *, colour: bool) -> str:
    """``text`` in the colour of ``status`` (green, yellow, bold red), or as it is."""
    return f"\x1b[{_SGR[status]}m{text}{RESET}" if colour and text else text


def label(status: str, *, colour: bool, width: int = 0) -> str:
    """``OK``/``WARN``/``FAIL`` padded to ``width`` (the padding stays outside the colour codes)."""
    word = _LABELS[status]
    return paint(word, status, colour=colour) + " " * max(0, width - len(word))
