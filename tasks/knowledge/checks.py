"""One line per check (`inv doctor`): OK, WARN (advice, does not fail) or FAIL, as text or JSON (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..knowledge.colour import FAIL, label, status_of

#: Width of the check's name in the text form.
WHAT_WIDTH = 14


@dataclass(frozen=True)
class Check:
    status: str  # tasks.knowledge.colour.OK / WARN / FAIL
    what: str
    detail: str

    @classmethod
    def of(cls, ok: bool, what: str, detail: str, *, warn: bool = False) -> Check:
        return cls(status_of(ok, warn), what, detail)


def check_line(check: Check, *, colour: bool = False) -> str:
    """``OK   docker CLI     /usr/bin/docker`` (the status word coloured when asked)."""
    return f"{label(check.status, colour=colour, width=4)} {check.what:<{WHAT_WIDTH}} {check.detail}"


def check_facts(check: Check) -> dict[str, Any]:
    """One entry of `doctor --json`'s ``checks``."""
    return {"check": check.what.strip(), "status": check.status, "ok": check.status != FAIL, "detail": check.detail}
