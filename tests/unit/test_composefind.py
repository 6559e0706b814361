"""The Compose version cache: reused while the binaries are unchanged, refreshed when one changes."""
import os
import stat

from tasks import composefind


def make_stub(directory, name, version):
    path = directory / name
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_cache_hit_until_the_binary_changes(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = make_stub(bin_dir, "compose-stub", "v2.30.1")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cache = tmp_path / "state" / "compose-cli.json"
    calls = []
    real_probe = composefind.probe
    monkeypatch.setattr(composefind, "probe", lambda c: calls.append(c) or real_probe(c))

    assert composefind.find([["compose-stub"]], cache) == (["compose-stub"], (2, 30, 1))
    assert composefind.find([["compose-stub"]], cache) == (["compose-stub"], (2, 30, 1))
    assert len(calls) == 1  # the second answer came from the cache

    make_stub(bin_dir, "compose-stub", "5.1.0")
    os.utime(stub, ns=(stub.stat().st_atime_ns, stub.stat().st_mtime_ns + 10**9))
    assert composefind.find([["compose-stub"]], cache) == (["compose-stub"], (5, 1, 0))
    assert len(calls) == 2

    composefind.forget(cache)
    assert not cache.exists()
    composefind.forget(cache)  # idempotent


def test_not_found_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    cache = tmp_path / "c.json"
    assert composefind.find([["no-such-compose"]], cache) is None
    assert not cache.exists()


def test_plugin_dirs_follow_docker_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert composefind.plugin_dirs()[0] == tmp_path / "cli-plugins"
