"""Splitting a configured command (`app.dev`, `compose.command`) into an argument list (pure).

Never through a shell. POSIX rules by default (quotes group, a backslash escapes); on Windows a
backslash is a folder separator, so it stays literal while quotes still group:
`"C:\\Program Files\\Docker\\docker.exe" compose` is two arguments.
"""

from __future__ import annotations

import os
import shlex


def split_command(text: str, windows: bool = os.name == "nt") -> list[str]:
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    if windows:
        lexer.escape = ""
    return list(lexer)
