"""Which compose files, project directory and .env Compose uses (compose_cli.resolve_project_files),
and the Compose driver built on it: no .env needed where Compose needs none."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.drivers.compose import Compose
from tasks.knowledge.compose_cli import resolve_project_files
from tasks.knowledge.defaults import DEFAULTS
from tasks.knowledge.failures import UserError
from tasks.knowledge.settings import Settings


def touch(path: Path, text: str = "services: {}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_lookup_prefers_compose_yaml_and_adds_its_override(tmp_path):
    touch(tmp_path / "docker-compose.yml")
    touch(tmp_path / "compose.yaml")
    touch(tmp_path / "compose.override.yaml")
    touch(tmp_path / "docker-compose.override.yml")
    found = resolve_project_files(tmp_path, "", {}, {})
    assert found.files == (tmp_path / "compose.yaml", tmp_path / "compose.override.yaml")
    assert found.project_dir == tmp_path and found.env_file == tmp_path / ".env"
    assert not found.explicit and found.via == "lookup"
    # a compose.override.yaml that appears later changes the answer: it is watched
    assert tmp_path / "compose.override.yaml" in found.watched


def test_lookup_watches_files_not_there_yet(tmp_path):
    touch(tmp_path / "docker-compose.yml")
    found = resolve_project_files(tmp_path, "", {}, {})
    assert found.files == (tmp_path / "docker-compose.yml",)
    for name in ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.override.yml", ".env"):
        assert tmp_path / name in found.watched


def test_lookup_goes_up_to_the_parents_and_reads_the_env_there(tmp_path):
    touch(tmp_path / "compose.yml")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    found = resolve_project_files(deep, "", {}, {})
    assert found.files == (tmp_path / "compose.yml",)
    assert found.project_dir == tmp_path and found.env_file == tmp_path / ".env"


def test_configured_files_in_a_subfolder_use_the_env_beside_the_first(tmp_path):
    found = resolve_project_files(tmp_path, "infra/docker/docker-compose.yml", {}, {})
    assert found.files == (tmp_path / "infra/docker/docker-compose.yml",)
    assert found.explicit and found.project_dir == tmp_path / "infra/docker"
    assert found.env_file == tmp_path / "infra/docker/.env"


def test_compose_file_from_the_environment_or_root_env_keeps_the_root_env(tmp_path):
    touch(tmp_path / ".env", "")
    found = resolve_project_files(tmp_path, "", {"COMPOSE_FILE": "a/x.yml;b/y.yml", "COMPOSE_PATH_SEPARATOR": ";"}, {})
    assert found.files == (tmp_path / "a/x.yml", tmp_path / "b/y.yml")
    assert found.via == "COMPOSE_FILE" and not found.explicit
    assert found.project_dir == tmp_path / "a" and found.env_file == tmp_path / ".env"
    from_dotenv = resolve_project_files(tmp_path, "", {}, {"COMPOSE_FILE": "c/z.yml"}, pathsep=":")
    assert from_dotenv.files == (tmp_path / "c/z.yml",)
    # without a .env in the working folder, Compose reads the one beside the first file
    no_root_env = resolve_project_files(tmp_path, "", {"COMPOSE_FILE": "a/x.yml"}, {}, exists=lambda p: False)
    assert no_root_env.env_file == tmp_path / "a/.env"


def test_an_explicit_env_file_wins(tmp_path):
    found = resolve_project_files(tmp_path, "x/compose.yml", {}, {}, env_file=tmp_path / "my.env")
    assert found.env_file == tmp_path / "my.env" and found.env_explicit


def settings_for(root: Path, **compose: str) -> Settings:
    config = {**DEFAULTS, "compose": {**DEFAULTS["compose"], **compose}, "state": {"dir": str(root / "state")}}
    return Settings.from_config(config, root=root)


def test_no_env_and_no_example_is_fine(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    touch(tmp_path / "compose.yaml")
    compose = Compose(settings_for(tmp_path))
    assert compose.dotenv.values == {} and compose.env_path == tmp_path / ".env"


def test_missing_env_with_an_example_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    touch(tmp_path / "compose.yaml")
    touch(tmp_path / ".env.example", "A=1\n")
    with pytest.raises(UserError, match=r"\.env is missing: copy \.env\.example .*inv env\.init"):
        Compose(settings_for(tmp_path))


def test_the_env_and_example_of_a_subfolder_project(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    touch(tmp_path / "infra/docker/docker-compose.yml")
    touch(tmp_path / "infra/docker/.env", "A=sub\n")
    touch(tmp_path / ".env", "A=root\n")
    compose = Compose(settings_for(tmp_path, files="infra/docker/docker-compose.yml"))
    assert compose.dotenv.values == {"A": "sub"}
    assert compose.env_example == tmp_path / "infra/docker/.env.example"
    # the first -f file's folder holds the .env: no --env-file needed
    assert "--env-file" not in compose.argv("config")
    # a file added with -f keeps the .env in use
    compose.base = ["docker", "compose"]
    argv = compose.argv("up", files=[*compose.files(), "extra.yml"])
    assert "--env-file" not in argv


def test_compose_file_variable_with_added_files_names_the_root_env(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSE_FILE", "infra/compose.yaml")
    touch(tmp_path / "infra/compose.yaml")
    touch(tmp_path / ".env", "A=root\n")
    compose = Compose(settings_for(tmp_path))
    compose.base = ["docker", "compose"]
    assert compose.argv("ps") == ["docker", "compose", "ps"]
    argv = compose.argv("up", files=[*compose.files(), "extra.yml"])
    assert argv[2:4] == ["--env-file", str(tmp_path / ".env")]


def test_a_configured_env_file_is_named_to_compose_even_when_missing(tmp_path, monkeypatch):
    """A recovery (require_env=False) with the configured env file gone must not let Compose read the
    root .env instead: that is another project, and the restore would start a worker there."""
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    touch(tmp_path / "compose.yaml")
    touch(tmp_path / ".env", "COMPOSE_PROJECT_NAME=another\n")
    compose = Compose(settings_for(tmp_path, env_file=str(tmp_path / "gone.env")), require_env=False)
    compose.base = ["docker", "compose"]
    assert compose.argv("up", "-d", "worker")[2:4] == ["--env-file", str(tmp_path / "gone.env")]
    configured_root = Compose(settings_for(tmp_path, env_file=".env"))  # `.env` written by adopt: named too
    configured_root.base = ["docker", "compose"]
    assert configured_root.argv("ps")[2:4] == ["--env-file", str(tmp_path / ".env")]


def test_a_missing_env_file_of_a_subfolder_project_is_named_by_its_path(tmp_path, monkeypatch):
    """With the compose file in infra/docker/, Compose reads infra/docker/.env: a missing one is not ".env"."""
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    touch(tmp_path / "infra/docker/docker-compose.yml")
    touch(tmp_path / "infra/docker/.env.example", "A=1\n")
    touch(tmp_path / ".env", "A=root\n")  # the root's exists: not the one Compose reads
    with pytest.raises(UserError) as error:
        Compose(settings_for(tmp_path, files="infra/docker/docker-compose.yml"))
    assert error.value.reason.startswith(
        "infra/docker/.env is missing: copy infra/docker/.env.example to infra/docker/.env"
    ), error.value.reason
