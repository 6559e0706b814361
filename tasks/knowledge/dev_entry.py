"""A dev command for a worker whose package has no `dev` script: the shipped runner on its real entry (pure).

`inv adopt` writes it into the worker's `dev:` in invoke.yaml. The entry is what the background
container runs, read in this order: the service's `entrypoint`/`command` (Compose's resolved
configuration), the image's ENTRYPOINT/CMD (the Dockerfile in the build context, the stage built),
then the package's `start` script, `main` and `bin`. `npm start`, `pnpm run start:prod` and the like
are followed through the package's scripts. A path the container sees (`/app/dist/workers.js`,
`./dist/workers.js`, `apps/workers/dist/index.js` from a workspace root) is tried relative to the
package folder in several readings; the first whose file exists in the workspace wins, so the
command never names a file that is not there:

- a TypeScript source (`src/workers.ts`, or the source of a compiled `dist/workers.js`): through tsx
  when the workspace has it (`devstack-run --watch src -- node --import tsx src/workers.ts`, as the
  example app's `dev` script), else, with TypeScript and a tsconfig.json in the package, compiled by
  the runner before each start (`devstack-run --build tsc --watch src -- node dist/workers.js`);
- a plain JavaScript file outside a build output folder: `devstack-run --watch src -- node src/x.js`.

Nothing found (no entry, or a compiled file whose source is not in the workspace, or TypeScript with
neither tsx nor tsc): no command, and the line says what to set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from .command_line import split_command
from .watchers import RUNNER_NAME, script_commands

if TYPE_CHECKING:
    from .adopt_apps import Package

#: What the image runs, as build_context.ImageCommand: (entrypoint, cmd, workdir).
Image = tuple[list[str], list[str], str]


class Tree(Protocol):
    """The workspace's files by root-relative posix path."""

    def exists(self, path: str) -> bool: ...


@dataclass(frozen=True)
class DevPlan:
    command: str  # the `dev:` value for invoke.yaml; "" when none could be found
    line: str  # what adopt says about it (one line)


_TS = (".ts", ".mts", ".cts", ".tsx")
_JS = (".js", ".mjs", ".cjs")
_OUT_FOLDERS = ("dist", "build", "out", "lib")
#: Node options whose value is a module, not the entry (`node -r dotenv/config --import ./otel.mjs x.js`).
_VALUE_OPTIONS = {"-r", "--require", "--import", "--loader", "--experimental-loader", "-e", "--eval", "-p"}
_WRAPPERS = {"tini", "dumb-init", "--", "exec", "docker-entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh"}
_TS_FOR_JS = {".js": ".ts", ".mjs": ".mts", ".cjs": ".cts"}


def _in_workspace(package_dir: str, packages: dict[str, Package], tree: Tree, dependency: str) -> bool:
    """Is a tool installed for the package: a dependency of it or a package above it (the workspace root),
    or its binary in a node_modules/.bin on the way up."""
    rel = PurePosixPath(package_dir)
    for folder in [rel, *rel.parents]:
        key = folder.as_posix() if folder.parts else "."
        found = packages.get(key)
        if found is not None and dependency in found.dependencies:
            return True
        prefix = "" if key == "." else f"{key}/"
        if tree.exists(f"{prefix}node_modules/.bin/{dependency if dependency != 'typescript' else 'tsc'}"):
            return True
    return False


def _words(text: str) -> list[str]:
    try:
        return split_command(text, windows=False)
    except ValueError:
        return text.split()


def _entry_word(argv: list[str]) -> str | None:
    """The file a command runs: the first word with a JS/TS extension that is no option's value
    (`node -r dotenv/config dist/index.js` -> dist/index.js); `node .` -> "." (the package's main)."""
    skip = False
    words = [w for w in argv if PurePosixPath(w).name not in _WRAPPERS]
    for i, word in enumerate(words):
        if skip:
            skip = False
            continue
        if word in _VALUE_OPTIONS:
            skip = True
            continue
        if word.startswith("-"):
            continue
        if PurePosixPath(word).suffix in _TS + _JS:
            return word
        if word in (".", "./") and i > 0 and PurePosixPath(words[i - 1]).name == "node":
            return "."
    return None


def _readings(word: str, package_dir: str, workdir: str) -> list[str]:
    """A path as the container sees it -> candidate paths relative to the package folder."""
    path = PurePosixPath(word)
    found: list[str] = []
    if path.is_absolute():
        if workdir:
            try:
                found.append(path.relative_to(workdir).as_posix())
            except ValueError:
                pass
        parts = path.parts[1:]
        found += [PurePosixPath(*parts[i:]).as_posix() for i in range(len(parts))]
    else:
        plain = path.as_posix()
        found.append(plain)
        if package_dir != ".":
            try:  # run from the workspace root: apps/workers/dist/index.js
                found.append(PurePosixPath(plain).relative_to(package_dir).as_posix())
            except ValueError:
                pass
    return [f for f in dict.fromkeys(found) if f and f != "."]


def _sources_of(compiled: str) -> list[str]:
    """`dist/workers.js` -> [`src/workers.ts`, `workers.ts`]: where a compiled file's source usually is."""
    path = PurePosixPath(compiled)
    suffix = _TS_FOR_JS.get(path.suffix)
    if suffix is None or not path.parts or path.parts[0] not in _OUT_FOLDERS:
        return []
    rest = PurePosixPath(*path.parts[1:]).with_suffix(suffix)
    if rest.parts and rest.parts[0] == "src":  # outDir dist with rootDir . : dist/src/x.js
        return [rest.as_posix()]
    out = [f"src/{rest.as_posix()}", rest.as_posix()]
    return out + [p[: -len(suffix)] + ".tsx" for p in out if suffix == ".ts"]


@dataclass(frozen=True)
class _Entry:
    source: str  # relative to the package folder: the file to run (TS or JS)
    compiled: str  # the compiled file the container runs ("" when it runs the source)
    origin: str  # where it was read, for the line


def _resolve(word: str, package_dir: str, workdir: str, tree: Tree, main: str) -> tuple[str, str] | None:
    """(source, compiled) for an entry word, the first reading whose file exists; None when none does."""
    prefix = "" if package_dir == "." else f"{package_dir}/"
    if word == ".":
        if not main:
            return None
        word, workdir = main, ""
    for reading in _readings(word, package_dir, workdir):
        suffix = PurePosixPath(reading).suffix
        if suffix in _TS and tree.exists(prefix + reading):
            return reading, ""
        if suffix in _JS:
            for source in _sources_of(reading):
                if tree.exists(prefix + source):
                    return source, reading
            if PurePosixPath(reading).parts[0] not in _OUT_FOLDERS and tree.exists(prefix + reading):
                return reading, ""
    return None


def _commands(raw: dict[str, Any], image: Image | None, package: Package) -> list[tuple[list[str], str, str]]:
    """(argv, container working dir, where it was read) in the order they are trusted."""
    found: list[tuple[list[str], str, str]] = []
    workdir = str(raw.get("working_dir") or "")
    service = [*_argv(raw.get("entrypoint")), *_argv(raw.get("command"))]
    if service:
        found.append((service, workdir or (image[2] if image else ""), "its compose command"))
    if image is not None and (image[0] or image[1]):
        found.append(([*image[0], *image[1]], workdir or image[2], "its Dockerfile's CMD"))
    scripts = package.script_map
    if scripts.get("start"):
        found.append((["npm", "start"], "", "its `start` script"))
    if package.main:
        found.append((["node", package.main], "", "its package.json `main`"))
    found += [(["node", b], "", "its package.json `bin`") for b in package.bin]
    return found


def _argv(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str) and value:
        return _words(value)
    return []


def _shell_script(argv: list[str]) -> list[str]:
    """`sh -c "cd x && node dist/a.js"` -> the script's words; anything else as it is."""
    if len(argv) >= 3 and PurePosixPath(argv[0]).name in ("sh", "bash", "ash") and argv[1] == "-c":
        return _words(argv[2])
    return argv


def find_entry(
    package: Package,
    packages: dict[str, Package],
    raw: dict[str, Any],
    image: Image | None,
    tree: Tree,
) -> _Entry | None:
    """The worker's entry: from the first of its commands that leads to a file in the workspace."""
    scripts = package.script_map
    for argv, workdir, origin in _commands(raw, image, package):
        texts = script_commands(" ".join(_shell_script(argv)), scripts)  # followed through `npm start`...
        for text in texts:
            word = _entry_word(_words(text))
            if word is None:
                continue
            resolved = _resolve(word, package.dir, workdir, tree, package.main)
            if resolved is not None:
                source, compiled = resolved
                return _Entry(source, compiled, origin)
    return None


def has_dev_script(package: Package, names: list[str]) -> str:
    """The script that would run the worker in development ("" when the package has none)."""
    from .package_manager import dev_script

    scripts = package.script_map
    name = dev_script(scripts, names)
    return name if name in scripts else ""


def plan(
    package: Package,
    packages: dict[str, Package],
    raw: dict[str, Any],
    image: Image | None,
    tree: Tree,
) -> DevPlan:
    """The dev command for a package without a `dev` script (see the module's docstring)."""
    where = "package.json" if package.dir == "." else f"{package.dir}/package.json"
    entry = find_entry(package, packages, raw, image, tree)
    if entry is None:
        return DevPlan(
            "",
            f"no `dev` script in {where} and no entry file found from its compose command, image CMD, `start`, "
            "`main` or `bin`: set its `dev:` in invoke.yaml (e.g. `dev: devstack-run -- node <its entry file>`)",
        )
    source = PurePosixPath(entry.source)
    # The sources' top folder (`src` of src/jobs/main.ts); an entry outside the package (`../../dist/...`,
    # built elsewhere) is watched in its own folder: `..` would be the whole workspace's folder.
    top = str(source.parent) if source.parts[0] == ".." else source.parts[0]
    watch = f"--watch {top} " if len(source.parts) > 1 else ""
    what = (
        f"{entry.source} (the source of {entry.compiled}, from {entry.origin})"
        if entry.compiled
        else (f"{entry.source} (from {entry.origin})")
    )
    head = f"no `dev` script in {where}: dev is the shipped runner on {what}"
    if source.suffix in _JS:
        return DevPlan(f"{RUNNER_NAME} {watch}-- node {entry.source}", head)
    prefix = "" if package.dir == "." else f"{package.dir}/"
    if _in_workspace(package.dir, packages, tree, "tsx"):
        return DevPlan(f"{RUNNER_NAME} {watch}-- node --import tsx {entry.source}", f"{head}, through tsx")
    if (
        entry.compiled
        and _in_workspace(package.dir, packages, tree, "typescript")
        and tree.exists(f"{prefix}tsconfig.json")
    ):
        return DevPlan(
            f"{RUNNER_NAME} --build tsc {watch}-- node {entry.compiled}",
            f"{head}, compiled by `tsc` before each start (the workspace has no tsx)",
        )
    return DevPlan(
        "",
        f"no `dev` script in {where}, and {entry.source} is TypeScript but the workspace has neither tsx nor "
        "tsc with a tsconfig.json there: add tsx (then `dev: devstack-run -- node --import tsx "
        f"{entry.source}`) or set its `dev:` in invoke.yaml",
    )
