"""Does the app start Node processes of its own (pure: file texts in, findings and lines out)?

Read the way `tasks/runner/consumers.cjs` reads a container's code for SIGTERM handlers: plain text,
no parsing. A file forks when it imports `node:cluster` (or `cluster`) and calls `.fork(`, or imports
`child_process` and calls `fork(`. How many: `os.cpus().length` or `os.availableParallelism()` in the
same file means one per CPU the process sees, and inside a container that is the engine's CPU count,
not the cap (`--cpus` sets a CFS quota; the CPUs stay visible), so a 1-CPU prod-like worker on an
8-CPU machine still forks 8. The files read are the app's folder and the app's own code it loads
(`loaded`, `candidates`; walked by `tasks/drivers/app_code.py`). A reading of the code: a fork in a
bundled dependency, or a count read from elsewhere, is not seen; a file that mentions both for
another reason counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CLUSTER = re.compile(r"""(require\(\s*|from\s+|import\(\s*)['"](node:)?cluster['"]""")
_CHILD = re.compile(r"""(require\(\s*|from\s+|import\(\s*)['"](node:)?child_process['"]""")
_FORK = re.compile(r"\bfork\s*\(")
_PER_CPU = re.compile(r"\bcpus\s*\(\s*\)\s*\.\s*length|\bavailableParallelism\s*\(")
CODE = re.compile(r"\.(c|m)?(j|t)sx?$")
#: What a file loads: `require("x")`, `import("x")`, `from "x"`, `import "x"` (tasks/runner/consumers.cjs too).
_SPECIFIER = re.compile(r"""(?:\brequire\s*\(\s*|\bimport\s*\(\s*|\bfrom\s+|\bimport\s+)(["'`])([^"'`\s]+)\1""")
#: The files Node (or tsx) tries for a path without one of these extensions, in this order.
EXTENSIONS = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx")


def loaded(text: str) -> tuple[list[str], list[str]]:
    """What a file loads: (relative or absolute paths, package names of bare specifiers; `node:`
    built-ins left out). Which of those packages are the app's own code is asked of the file system."""
    paths, packages = [], []
    for match in _SPECIFIER.finditer(text):
        spec = match.group(2)
        if spec.startswith(("./", "../", "/")):
            paths.append(spec)
        elif not spec.startswith("node:"):
            parts = spec.split("/")
            packages.append("/".join(parts[:2] if spec.startswith("@") else parts[:1]))
    return paths, packages


def candidates(base: str) -> list[str]:
    """The files Node (or tsx) would load for ``base``: itself, with an extension added, a `.ts` imported
    as `.js` (TypeScript's NodeNext style), or a folder's index."""
    ts = re.sub(r"\.(m|c)?js$", r".\1ts", base)
    return [base, *(base + e for e in EXTENSIONS), ts, *(f"{base}/index{e}" for e in EXTENSIONS)]


@dataclass(frozen=True)
class ForkSite:
    file: str
    how: str  # "node:cluster" or "child_process.fork"
    per_cpu: bool  # the count follows os.cpus() / availableParallelism()


def scan(path: str, text: str) -> list[ForkSite]:
    """The forks one file makes (none, or one per kind)."""
    if not _FORK.search(text):
        return []
    per_cpu = bool(_PER_CPU.search(text))
    found = []
    if _CLUSTER.search(text):
        found.append(ForkSite(path, "node:cluster", per_cpu))
    if _CHILD.search(text):
        found.append(ForkSite(path, "child_process.fork", per_cpu))
    return found


def lines(
    sites: list[ForkSite], *, planned_cpus: float, planned_processes: int, visible_cpus: int | None, where: str
) -> list[str]:
    """What `doctor` and `prodlike.plan` say of an app that forks by itself (nothing when it does not).

    ``visible_cpus``: the CPUs `os.cpus()` returns in the container (the engine's, or this machine's
    when Docker is not asked); ``where`` says which, for the line."""
    if not sites:
        return []
    named = ", ".join(f"{s.how} in {s.file}" for s in sites[:3]) + (
        f" and {len(sites) - 3} more" if len(sites) > 3 else ""
    )
    out = [
        f"the app forks Node processes by itself ({named}): each gets the container's NODE_OPTIONS heap, and all "
        f"share the memory cap; the plan counts {planned_processes} worker process(es) (--processes)"
    ]
    if any(s.per_cpu for s in sites):
        if visible_cpus:
            count = f"{visible_cpus} ({where}) plus its primary"
            advice = (
                f"; plan with --processes {visible_cpus}, or size the fork count from the cap"
                if visible_cpus != planned_processes
                else ""
            )
        else:
            count, advice = "one per CPU the engine has, plus its primary", ""
        out.append(
            f"it forks one process per CPU (os.cpus()/availableParallelism()): under the planned {planned_cpus:g}-CPU "
            f"cap that is still {count}, because os.cpus() sees the host's CPUs, not the cap{advice}"
        )
    return out
