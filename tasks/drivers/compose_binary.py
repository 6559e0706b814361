"""Finding the Compose command and its version, remembered between runs.

Asking `docker compose version` costs ~35 ms on every task, a sixth of an `inv worker.up` on top of
Compose itself. The answer changes only when one of the binaries involved changes, so it is cached
under a key made of those files (paths and modification times): the CLI, every Compose plugin file
the Docker CLI could load, a `docker-compose` binary. A failed Compose command drops the cache too.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

from ..drivers.gateway import Gateway
from ..knowledge import compose_cli


def plugin_name(platform: str = sys.platform) -> str:
    """The Compose plugin's file name: `docker-compose.exe` on Windows."""
    return "docker-compose.exe" if platform == "win32" else "docker-compose"


PLUGIN = plugin_name()


def plugin_dirs(
    platform: str = sys.platform, environ: Mapping[str, str] | None = None, home: PurePath | None = None
) -> list[PurePath]:
    """Where the Docker CLI looks for plugins (see the CLI's plugin manager), per platform.

    Windows: %USERPROFILE%\\.docker\\cli-plugins, then Docker Desktop's
    %ProgramData%\\Docker\\cli-plugins and %ProgramFiles%\\Docker\\cli-plugins. The platform,
    environment and home folder are parameters so each branch is tested on any system.
    """
    env = os.environ if environ is None else environ
    windows = platform == "win32"
    # Real paths for this system; pure ones of the other kind when another platform is injected.
    flavour: type[PurePath] = Path if platform == sys.platform else PureWindowsPath if windows else PurePosixPath
    base = home if home is not None else Path.home()
    config = flavour(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else flavour(base) / ".docker"
    dirs: list[PurePath] = [config / "cli-plugins"]
    if windows:
        for var in ("ProgramData", "ProgramFiles"):
            if env.get(var):
                dirs.append(flavour(env[var]) / "Docker" / "cli-plugins")
    else:
        dirs += [
            flavour(p)
            for p in (
                "/usr/local/lib/docker/cli-plugins",
                "/usr/local/libexec/docker/cli-plugins",
                "/usr/lib/docker/cli-plugins",
                "/usr/libexec/docker/cli-plugins",
            )
        ]
        if platform == "darwin":
            dirs.append(flavour("/Applications/Docker.app/Contents/Resources/cli-plugins"))
    return dirs


def _stamp(path: str | Path | None) -> list[object]:
    if not path:
        return [None]
    try:
        return [str(path), os.stat(path).st_mtime_ns]
    except OSError:
        return [str(path), None]


def cache_key(candidates: list[list[str]]) -> list[object]:
    key: list[object] = []
    for base in candidates:
        key.append(_stamp(shutil.which(base[0])))
        if base[1:2] == ["compose"]:
            plugins = [Path(d / PLUGIN) for d in plugin_dirs()]
            key += [_stamp(p) for p in plugins if p.exists()]
    return key


def probe(candidates: list[list[str]], gateway: Gateway) -> tuple[list[str], tuple[int, int, int]] | None:
    """The first candidate that answers `version --short` with a version."""
    for base in candidates:
        if not gateway.which(base[0]):
            continue
        result = gateway.run([*base, "version", "--short"], capture=True)
        version = compose_cli.parse_version(result.stdout) if result.ok else None
        if version is not None:
            return base, version
    return None


def find(candidates: list[list[str]], cache: Path, gateway: Gateway) -> tuple[list[str], tuple[int, int, int]] | None:
    key = cache_key(candidates)
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data["key"] == key and data["candidates"] == candidates:
            return data["base"], tuple(data["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = probe(candidates, gateway)
    if found is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(
                json.dumps({"key": key, "candidates": candidates, "base": found[0], "version": list(found[1])}),
                encoding="utf-8",
            )
        except OSError:
            pass  # a read-only checkout still works, only slower
    return found


def forget(cache: Path) -> None:
    try:
        cache.unlink()
    except OSError:
        pass
