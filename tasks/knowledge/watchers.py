"""Dev commands and their watchers: which ones cut jobs or restart on a hang-up, and the shipped runner (pure).

What people put in `app.dev` (or in the package.json script it runs) decides whether a handover is
clean. Known traps (see the runner's header, tasks/runner/devrun.mjs):
- `tsx watch` SIGKILLs the worker 5 s after a stop signal or a change: a longer job is cut and waits
  30-60 s for BullMQ's stalled-job recovery, then runs again.
- nodemon restarts on every change by killing the worker (SIGUSR2, which a worker does not handle),
  and takes SIGHUP (a closed terminal) as "restart".
- `ts-node-dev`/`node-dev` restart by killing the worker too.
- `concurrently`/`npm-run-all` with a compiler in watch mode (`tsc --watch`, `tsc -w`, `swc -w`,
  `esbuild --watch`) next to a restarting watcher: every compile restarts the worker mid-job, and
  with no output folder yet the worker never starts.

The fix in every case: the runner shipped with the tasks, `devstack-run -- <the worker's entry>`,
which restarts the worker only after it stopped gracefully.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..knowledge.command_line import split_command

#: The word that names the shipped runner in `app.dev`; the tasks run it as `node <RUNNER_PATH>`.
RUNNER_NAME = "devstack-run"
#: tasks/knowledge/watchers.py -> tasks/runner/devrun.mjs
RUNNER_PATH = Path(__file__).resolve().parents[1] / "runner" / "devrun.mjs"

#: Package managers' ways of running a package.json script: argv prefix -> index of the script name.
_SCRIPT_RUNNERS = {
    ("npm", "run"): 2,
    ("npm", "run-script"): 2,
    ("pnpm", "run"): 2,
    ("yarn", "run"): 2,
    ("bun", "run"): 2,
}
_BUILTIN_SHORT = {"npm": {"start", "test"}}  # `npm start` runs the script `start`
_PM_COMMANDS = {"install", "i", "add", "exec", "dlx", "x", "ci", "build", "why", "remove"}
_COMPILERS_WATCH = (("tsc", ("--watch", "-w")), ("swc", ("--watch", "-w")), ("esbuild", ("--watch",)))


@dataclass(frozen=True)
class Finding:
    tool: str  # "tsx watch", "nodemon", ...
    problem: str  # what it does to a job (one clause)
    fix: str  # the `app.dev` line that avoids it

    def line(self, command: str) -> str:
        return f"`{command}` runs {self.tool}, which {self.problem}; use the shipped runner: `dev: {self.fix}`"


def expand_runner(argv: list[str], node: str = "node") -> list[str]:
    """`devstack-run ...` -> `node <path of the shipped runner> ...` (no shell, found without PATH)."""
    if argv and argv[0] == RUNNER_NAME:
        return [node, str(RUNNER_PATH), *argv[1:]]
    return argv


def script_commands(command: str, scripts: dict[str, str], depth: int = 0) -> list[str]:
    """The command, and what it runs through package.json scripts (`npm run dev`, `pnpm dev`, ...)."""
    found = [command]
    if depth > 5:
        return found
    for part in _split_chain(command):
        name = _script_name(part, scripts)
        if name is not None and name in scripts:
            found += script_commands(scripts[name], scripts, depth + 1)
        for word in part[1:]:
            if " " in word:  # a quoted command: `concurrently 'tsc -w' 'nodemon dist/x.js'`
                found += script_commands(word, scripts, depth + 1)
            elif word.startswith(("npm:", "pnpm:", "yarn:")) and word.split(":", 1)[1] in scripts:
                found += script_commands(scripts[word.split(":", 1)[1]], scripts, depth + 1)
    return found


def _split_chain(command: str) -> list[list[str]]:
    """A script's commands, split at `&&`, `||`, `;` and `&` (scripts run through a shell)."""
    try:
        words = split_command(command, windows=False)
    except ValueError:
        words = command.split()
    parts: list[list[str]] = [[]]
    for word in words:
        if word in ("&&", "||", ";", "&", "|"):
            parts.append([])
        else:
            parts[-1].append(word)
    return [p for p in parts if p]


def _script_name(argv: list[str], scripts: dict[str, str]) -> str | None:
    if not argv:
        return None
    tool = PurePosixPath(argv[0].replace("\\", "/")).name.removesuffix(".cmd").removesuffix(".exe")
    args = _without_member_choice(tool, [a for a in argv[1:] if a not in ("--silent", "-s")])
    for (pm, verb), _ in _SCRIPT_RUNNERS.items():
        if tool == pm and args[:1] == [verb]:
            return args[1] if len(args) > 1 else None
    if tool in _BUILTIN_SHORT and args[:1] and args[0] in _BUILTIN_SHORT[tool]:
        return args[0]
    if tool in ("pnpm", "yarn", "bun") and args and args[0] not in _PM_COMMANDS and args[0] in scripts:
        return args[0]
    return None


#: Options naming the workspace member a script runs in (`pnpm --filter <pkg> dev`, the detected form).
_MEMBER_OPTIONS = {"pnpm": {"--filter", "-F", "--dir", "-C"}, "npm": {"--workspace", "-w"}}


def _without_member_choice(tool: str, args: list[str]) -> list[str]:
    """`pnpm --filter @x/jobs dev` -> `dev`, `yarn workspace @x/jobs dev` -> `dev`: the script that runs
    (in the member's package.json, which the caller's scripts give)."""
    if tool == "yarn" and args[:1] == ["workspace"]:
        return args[2:]
    options = _MEMBER_OPTIONS.get(tool, set())
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in options:
            skip = True
        elif not any(arg.startswith(option + "=") for option in options if option.startswith("--")):
            out.append(arg)
    return out


def _words(command: str) -> list[str]:
    try:
        return split_command(command, windows=False)
    except ValueError:
        return command.split()


def _entry_guess(words: list[str], default: str) -> str:
    """The worker's entry file in a watcher's arguments (the first word that looks like a file)."""
    for word in words:
        if not word.startswith("-") and PurePosixPath(word).suffix in (".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"):
            return word
    return default


def _entry_command(entry: str) -> str:
    return f"tsx {entry}" if PurePosixPath(entry).suffix in (".ts", ".mts", ".cts") else f"node {entry}"


def _source_of(compiled: str) -> str:
    """`dist/index.js` -> `src/index.ts`: where the compiled entry's source probably is."""
    path = PurePosixPath(compiled)
    parts = ["src" if p in ("dist", "build", "out", "lib") else p for p in path.parent.parts]
    return str(PurePosixPath(*parts, path.stem + ".ts")) if parts else path.stem + ".ts"


def detect(command: str, scripts: dict[str, str] | None = None) -> list[Finding]:
    """What in the dev command (followed through package.json scripts) cuts jobs or restarts on a hang-up."""
    findings: list[Finding] = []
    texts = script_commands(command, scripts or {})
    compiler_watch = next((found for found in map(_compiler_in_watch, texts) if found), "")
    for text in texts:
        words = _words(text)
        names = [PurePosixPath(w.replace("\\", "/")).name for w in words]
        if RUNNER_NAME in names or any(n == "devrun.mjs" for n in names):
            return []  # the shipped runner already
        if "tsx" in names:
            i = names.index("tsx")
            if "watch" in names[i + 1 : i + 2]:
                entry = _entry_guess(words[i + 2 :], "src/index.ts")
                findings.append(
                    Finding(
                        "`tsx watch`",
                        "SIGKILLs the worker 5 s after a stop or a change "
                        "(a longer job is cut and run again 30-60 s later)",
                        f"{RUNNER_NAME} -- tsx {entry}",
                    )
                )
        for tool in ("nodemon", "ts-node-dev", "node-dev"):
            if tool in names:
                i = names.index(tool)
                entry = _entry_guess(words[i + 1 :], "dist/index.js")
                if compiler_watch:
                    fix = (
                        f"{RUNNER_NAME} -- tsx {_source_of(entry)}"
                        if entry.endswith(".js")
                        else (f"{RUNNER_NAME} -- {_entry_command(entry)}")
                    )
                    findings.append(
                        Finding(
                            f"{tool} beside `{compiler_watch}`",
                            "restarts the worker mid-job on every compile (and never starts it while the output "
                            "folder is missing)",
                            fix,
                        )
                    )
                else:
                    what = (
                        "kills the worker on every change (a job is cut) and restarts it on SIGHUP"
                        if tool == "nodemon"
                        else "kills the worker on every change (a job is cut)"
                    )
                    findings.append(Finding(tool, what, f"{RUNNER_NAME} -- {_entry_command(entry)}"))
    return _unique(findings)


def _compiler_in_watch(text: str) -> str:
    """`tsc --watch` (or swc/esbuild in watch mode) anywhere in a command, e.g. inside concurrently's quotes."""
    word_list = _words(text)
    names = [PurePosixPath(w.replace("\\", "/")).name for w in word_list]
    for compiler, flags in _COMPILERS_WATCH:
        if compiler in names and any(flag in word_list for flag in flags):
            flag = next(f for f in flags if f in word_list)
            return f"{compiler} {flag}"
    return ""


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[str] = set()
    out = []
    for finding in findings:
        if finding.tool not in seen:
            seen.add(finding.tool)
            out.append(finding)
    return out


#: A worker healthcheck interval above this makes every restore wait visibly for the first check.
SLOW_HEALTHCHECK_S = 5.0


def healthcheck_advice(service: str, healthcheck: object, engine_version: str = "") -> str:
    """Advice for a worker whose healthcheck interval makes a restore wait ("" when fine).

    Docker runs the first check one `interval` after the start, so a 30 s interval holds every
    restore (and `worker.up`) 30 s. `start_interval` (checks during `start_period`) fixes that,
    but it needs Docker Engine 25+ (API 1.44) and Compose 2.20.2+; an older engine does not apply it.
    """
    from ..knowledge.durations import parse_duration

    if not isinstance(healthcheck, dict) or healthcheck.get("disable"):
        return ""
    interval = parse_duration(str(healthcheck.get("interval") or ""), 30.0)  # Docker's default is 30 s
    if interval <= SLOW_HEALTHCHECK_S:
        return ""
    has_start = parse_duration(str(healthcheck.get("start_interval") or ""), 0.0) > 0
    if has_start and _engine_major(engine_version) >= 25:
        return ""
    base = (
        f"the {service} healthcheck runs every {interval:g} s, so `worker.up` waits up to {interval:g} s for its first "
        "check (a restore after `inv dev.worker` ends once the worker consumes its queue, unless its consumers "
        "cannot be seen)"
    )
    if has_start:
        return f"{base}: its start_interval needs Docker Engine 25+ (this one is {engine_version or 'unknown'})"
    engine = _engine_major(engine_version)
    if engine and engine < 25:
        return (
            f"{base}; a shorter `interval` helps here (start_interval needs Docker Engine 25+, this one is "
            f"{engine_version})"
        )
    return f"{base}; add `start_period: 30s` and `start_interval: 1s` to it (Docker Engine 25+, Compose 2.20.2+)"


def _engine_major(version: str) -> int:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0
