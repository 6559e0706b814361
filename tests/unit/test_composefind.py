"""The Compose version cache: reused while the binaries are unchanged, refreshed when one changes."""

import os
import stat

from tasks.drivers import compose_binary
from tasks.drivers.gateway import Gateway


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
    real_probe = compose_binary.probe

    def counting_probe(candidates, gateway):
        calls.append(candidates)
        return real_probe(candidates, gateway)

    monkeypatch.setattr(compose_binary, "probe", counting_probe)

    assert compose_binary.find([["compose-stub"]], cache, Gateway()) == (["compose-stub"], (2, 30, 1))
    assert compose_binary.find([["compose-stub"]], cache, Gateway()) == (["compose-stub"], (2, 30, 1))
    assert len(calls) == 1  # the second answer came from the cache

    make_stub(bin_dir, "compose-stub", "5.1.0")
    os.utime(stub, ns=(stub.stat().st_atime_ns, stub.stat().st_mtime_ns + 10**9))
    assert compose_binary.find([["compose-stub"]], cache, Gateway()) == (["compose-stub"], (5, 1, 0))
    assert len(calls) == 2

    compose_binary.forget(cache)
    assert not cache.exists()
    compose_binary.forget(cache)  # idempotent


def test_not_found_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    cache = tmp_path / "c.json"
    assert compose_binary.find([["no-such-compose"]], cache, Gateway()) is None
    assert not cache.exists()


def test_plugin_dirs_follow_docker_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert compose_binary.plugin_dirs()[0] == tmp_path / "cli-plugins"


def test_switching_docker_config_to_another_plugin_changes_the_key(tmp_path, monkeypatch):
    # How the CI's second pass runs another Compose: DOCKER_CONFIG=<dir with cli-plugins/docker-compose>.
    keys = []
    for version in ("2.26.1", "2.40.3"):
        config = tmp_path / version
        (config / "cli-plugins").mkdir(parents=True)
        make_stub(config / "cli-plugins", compose_binary.PLUGIN, version)
        monkeypatch.setenv("DOCKER_CONFIG", str(config))
        keys.append(compose_binary.cache_key([["docker", "compose"]]))
    assert keys[0] != keys[1]
    assert [str(tmp_path / "2.26.1" / "cli-plugins" / compose_binary.PLUGIN)] == [
        k[0] for k in keys[0] if isinstance(k, list) and "2.26.1" in str(k[0])
    ]
