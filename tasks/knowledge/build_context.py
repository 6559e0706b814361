"""What an image build reads from its context (pure): the paths a Dockerfile's COPY/ADD take, for the
stage Compose builds (`build.target`) and the stages it depends on, and which context paths
`.dockerignore` leaves out. An image-built worker's fingerprint covers exactly these files, so a
change elsewhere (a `dist/` only the prod stage copies, a log file the ignore file excludes) does not
make `worker.up` rebuild and recreate the worker.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple


class BuildInputs(NamedTuple):
    """A service's build as Compose resolves it: context folder, Dockerfile, target stage, build args."""

    context: Path
    dockerfile: Path
    target: str | None = None
    args: tuple[tuple[str, str], ...] = ()

    def ignore_file(self) -> Path:
        """The ignore file the build reads: `<Dockerfile>.dockerignore` beside it, else the context's."""
        beside = self.dockerfile.with_name(f"{self.dockerfile.name}.dockerignore")
        return beside if beside.is_file() else self.context / ".dockerignore"


@dataclass
class _Stage:
    name: str  # lower case; "" when unnamed
    base: str  # the FROM image (lower case): an earlier stage's name when built on it
    sources: list[str] = field(default_factory=list)
    uses: set[str] = field(default_factory=set)  # stages named by --from= (names or indices)
    entrypoint: list[str] | None = None  # as Docker runs them: exec form as written, shell form via sh -c
    cmd: list[str] | None = None
    workdir: str = ""  # the last WORKDIR (absolute once joined), "" when the stage sets none


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) per logical line: continuations joined, comments and blanks dropped."""
    joined = re.sub(r"\\[ \t]*\r?\n", " ", text)
    out = []
    for line in joined.splitlines():
        words = line.strip().split(None, 1)
        if len(words) == 2 and not words[0].startswith("#"):
            out.append((words[0].upper(), words[1].strip()))
    return out


def _flags(rest: str) -> tuple[list[str], str]:
    flags = []
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        flags.append(flag)
        rest = rest.strip()
    return flags, rest


_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def _expand(value: str, known: dict[str, str]) -> str:
    """`$VAR`, `${VAR}`, `${VAR:-default}` (and `-`, `:+`, `+`) as Docker expands them in COPY/ADD.

    A variable with no value here (an ARG without default, set by nothing Compose passes) becomes `*`:
    the glob then covers every folder it could name, so a fingerprint may cover too much but never
    misses a file the build copies."""

    def one(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        value = known.get(name)
        op, word = match.group("op"), match.group("word") or ""
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return _expand(word, known)
            return value
        if op in (":+", "+"):
            return _expand(word, known) if value is not None and (op == "+" or value != "") else ""
        return "*" if value is None else value

    return _VARIABLE.sub(one, value)


def _assignments(rest: str) -> dict[str, str | None]:
    """`ARG A=1 B` / `ENV A=1 B=2` (and the old `ENV A 1` form) as names and values (None: no default)."""
    try:
        words = shlex.split(rest)
    except ValueError:
        return {}
    if len(words) >= 2 and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}  # ENV NAME value
    return {w.partition("=")[0]: (w.partition("=")[2] if "=" in w else None) for w in words}


def _stages(text: str, build_args: dict[str, str] | None = None) -> list[_Stage]:
    args = dict(build_args or {})
    global_args: dict[str, str] = {}  # ARGs before the first FROM (with the build's values)
    known: dict[str, str] = {}  # what COPY/ADD of the current stage can expand
    stages: list[_Stage] = []
    for instruction, arguments in _instructions(text):
        flags, rest = _flags(arguments)
        if instruction == "ARG":
            for name, default in _assignments(rest).items():
                value = args.get(name, None if default is None else _expand(default, known))
                if not stages:
                    if value is not None:
                        global_args[name] = value
                elif value is not None or name in global_args:
                    known[name] = value if value is not None else global_args[name]
            continue
        if instruction == "ENV" and stages:
            known.update({k: _expand(v, known) for k, v in _assignments(rest).items() if v is not None})
            continue
        if instruction == "FROM":
            known = {}
            rest = _expand(rest, global_args)
            words = rest.split()
            name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else ""
            stages.append(_Stage(name=name, base=(words[0].lower() if words else "")))
            continue
        if not stages:
            continue
        stage = stages[-1]
        if instruction in ("CMD", "ENTRYPOINT", "WORKDIR"):
            _run_settings(stage, instruction, _expand(rest, known))
            continue
        for flag in flags:
            if flag.startswith("--from="):
                stage.uses.add(flag.removeprefix("--from=").lower())
            elif flag.startswith("--mount=") and "from=" in flag:
                found = re.search(r"(?:^|,)from=([^,]+)", flag.removeprefix("--mount="))
                if found:
                    stage.uses.add(found.group(1).lower())
        if instruction not in ("COPY", "ADD") or any(f.startswith("--from=") for f in flags):
            continue
        try:
            words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        except ValueError:
            continue
        if isinstance(words, list) and len(words) >= 2:
            stage.sources += [_expand(str(a), known) for a in words[:-1] if "://" not in str(a)]
    return stages


def _run_settings(stage: _Stage, instruction: str, rest: str) -> None:
    if instruction == "WORKDIR":
        path = rest.strip().strip('"')
        # relative: onto this stage's WORKDIR, else kept relative (joined onto the inherited one later)
        stage.workdir = path if path.startswith("/") or not stage.workdir else f"{stage.workdir.rstrip('/')}/{path}"
        return
    try:
        parsed = json.loads(rest) if rest.startswith("[") else None
    except ValueError:
        parsed = None
    argv = [str(a) for a in parsed] if isinstance(parsed, list) else ["/bin/sh", "-c", rest]
    if instruction == "CMD":
        stage.cmd = argv
    else:
        stage.entrypoint, stage.cmd = argv, None  # Docker: ENTRYPOINT resets an inherited CMD


class ImageCommand(NamedTuple):
    """What the built image runs: ENTRYPOINT, CMD and WORKDIR of the stage built (inherited from the
    stages it is built on), as far as the Dockerfile says (a base image's own are unknown here)."""

    entrypoint: list[str]
    cmd: list[str]
    workdir: str


def image_command(text: str, target: str | None = None, build_args: dict[str, str] | None = None) -> ImageCommand:
    """The ENTRYPOINT/CMD/WORKDIR of the stage built (``target``, else the last), following `FROM
    <earlier stage>` for what it inherits."""
    stages = _stages(text, build_args)
    index = {stage.name: i for i, stage in enumerate(stages) if stage.name}
    chain: list[_Stage] = []
    i: int | None = index.get(target.lower(), len(stages) - 1) if target else len(stages) - 1
    while i is not None and 0 <= i < len(stages) and stages[i] not in chain:
        chain.append(stages[i])
        i = index.get(stages[i].base)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    workdir = ""
    for stage in reversed(chain):  # the first stage built first: later ones override
        if stage.entrypoint is not None:
            entrypoint, cmd = stage.entrypoint, None
        if stage.cmd is not None:
            cmd = stage.cmd
        if stage.workdir:
            workdir = stage.workdir if stage.workdir.startswith("/") else f"{workdir.rstrip('/')}/{stage.workdir}"
    return ImageCommand(entrypoint or [], cmd or [], workdir)


def dockerfile_copy_sources(
    text: str, target: str | None = None, build_args: dict[str, str] | None = None
) -> list[str]:
    """The build-context paths read by the COPY/ADD instructions of the stage built (``target``, else
    the last) and of the stages it is built on or copies from; not `--from=` a stage, not URLs.
    Variables are expanded from the Dockerfile's ARG/ENV and ``build_args`` (Compose's `build.args`).

    A target the Dockerfile does not name: every stage's (never fewer files than Docker may read)."""
    stages = _stages(text, build_args)
    if not stages:
        return []
    index = {stage.name: i for i, stage in enumerate(stages) if stage.name}
    if target:
        if target.lower() not in index:
            return [source for stage in stages for source in stage.sources]
        start = index[target.lower()]
    else:
        start = len(stages) - 1
    needed: set[int] = set()
    todo = [start]
    while todo:
        i = todo.pop()
        if i in needed:
            continue
        needed.add(i)
        for ref in {stages[i].base, *stages[i].uses}:
            j = index.get(ref, int(ref) if ref.isdigit() and int(ref) < i else None)
            if j is not None and j < i:
                todo.append(j)
    return [source for i, stage in enumerate(stages) if i in needed for source in stage.sources]


def named_copies(sources: list[str], name: str) -> list[str]:
    """The COPY/ADD sources that name the file ``name`` itself (`COPY .env ./`, `COPY config/.env* ./`),
    not a folder that merely may hold it (`COPY . .` copies a `.env` only when there is one)."""
    from fnmatch import fnmatchcase
    from pathlib import PurePosixPath

    return [source for source in sources if fnmatchcase(name, PurePosixPath(source).name or ".")]


def dockerignore(text: str | None) -> Callable[[str], bool]:
    """Is a context path (relative, `/`-separated) left out by this `.dockerignore`?

    Docker's rules: one pattern a line (`#` comments), matched from the context root (a leading `/`
    is dropped), `*` and `?` within one path element, `**` across any number of them, a pattern that
    matches a folder leaves out everything in it, `!` takes a path back in, the last match wins."""
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = line[1:].strip() if keep else line
        pattern = re.sub(r"/+", "/", pattern).strip("/")
        parts = [p for p in pattern.split("/") if p not in ("", ".")]
        if not parts:
            continue
        rules.append((keep, re.compile(_translate("/".join(parts)))))

    def ignored(path: str) -> bool:
        parts = path.strip("/").split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        result = False
        for keep, regex in rules:
            if any(regex.fullmatch(prefix) for prefix in prefixes):
                result = not keep
        return result

    return ignored


def _translate(pattern: str) -> str:
    """A `.dockerignore` pattern as a regular expression over a `/`-separated path."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
                i += 1
            else:
                body = pattern[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith("^") else body).replace("\\", "\\\\") + "]")
                i = end + 1
        elif char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


_SHELLS = ("/bin/sh", "sh", "/bin/bash", "bash", "/bin/ash", "ash")


def shell_wrapped(entrypoint: list[str] | None, command: list[str] | None) -> str | None:
    """The command a container runs through `sh -c` without `exec` (a shell-form CMD or ENTRYPOINT),
    else None.

    The shell then stays the worker's parent (Debian's dash does not replace itself by the last
    command): a stop signal reaches the shell, which dies or ignores it, and the worker never runs its
    SIGTERM handler, so its job in progress is cut. An entrypoint script (docker-entrypoint.sh) is not
    judged here: most end with `exec "$@"`."""
    argv = [*(entrypoint or []), *(command or [])]  # what Docker runs: the entrypoint, then the command
    if len(argv) < 3 or argv[0] not in _SHELLS or argv[1] != "-c":
        return None
    script = argv[2].strip()
    if script.startswith("exec ") or not script:
        return None
    return script
