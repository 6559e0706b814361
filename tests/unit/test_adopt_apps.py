"""Which package a service runs (tasks/knowledge/adopt_apps.py) and what adopt says around it, per shape
of issue 24 on small workspace trees: a pulled image, bind-mounted sources, services bind-mounting a
workspace root that uses bullmq, a second compose file, an env file the docs pass, a kept choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.drivers import workspace
from tasks.knowledge import adopt_config, adopt_plan
from tasks.knowledge.adopt_plan import propose
from tasks.knowledge.failures import UserError


def tree(root: Path, files: dict[str, object]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content) if isinstance(content, dict) else str(content))


def proposals(root: Path, services: dict) -> dict[str, adopt_plan.Proposal]:
    found = propose({"services": services}, root.as_posix(), workspace.packages(root), files=workspace.Tree(root))
    return {p.service: p for p in found}


def test_a_pulled_image_worker_gets_the_member_its_name_matches_said_as_a_guess(tmp_path):
    tree(
        tmp_path,
        {
            "package.json": {"name": "mono", "scripts": {"dev": "turbo dev"}},
            "apps/workers/package.json": {"name": "@org/workers", "dependencies": {"bullmq": "5"}},
            "apps/api/package.json": {"name": "@org/api", "dependencies": {"bullmq": "5"}},
        },
    )
    services = {
        "jobs": {"image": "registry.example.com:5000/org/workers:latest"},
        "api": {"image": "registry.example.com/org/api:1", "ports": [{"target": 3000}]},
    }
    (jobs,) = proposals(tmp_path, services).values()
    assert jobs.app_dir == "apps/workers"
    assert jobs.reason == "apps/workers, guessed from the name `workers` (bullmq in its package.json)"
    assert jobs.notes == (
        "dir apps/workers (package @org/workers) is a guess from the name `workers` (the image is pulled, no build "
        "or command leads to a folder): check `dir:` in invoke.yaml",
    )


def test_a_worker_no_folder_leads_to_is_said_to_run_the_whole_workspace(tmp_path):
    tree(
        tmp_path,
        {"package.json": {"name": "mono"}, "apps/api/package.json": {"name": "api"}},
    )
    (worker,) = proposals(tmp_path, {"queue-worker": {"image": "org/something:1"}}).values()
    assert worker.app_dir == "." and worker.reason == "its name"
    assert "dir . is the workspace root, whose dev command runs the whole workspace" in worker.notes[-1]


def test_bind_mounted_sources_map_the_working_dir_back_to_the_member(tmp_path):
    """`working_dir: /app/apps/worker`, `../../:/app` (Compose resolves the source), `npm run dev`."""
    tree(
        tmp_path,
        {
            "package.json": {"name": "mono"},
            "apps/worker/package.json": {
                "name": "worker",
                "dependencies": {"bullmq": "5"},
                "scripts": {"dev": "tsx watch src/index.ts"},
            },
            "apps/worker/src/index.ts": "",
            "node_modules/.bin/tsx": "",
        },
    )
    raw = {
        "image": "node:24",
        "working_dir": "/app/apps/worker",
        "volumes": [{"type": "bind", "source": tmp_path.as_posix(), "target": "/app"}],
        "command": ["npm", "run", "dev"],
    }
    worker = proposals(tmp_path, {"worker": raw})["worker"]
    assert worker.app_dir == "apps/worker"
    assert worker.reason == "its name (runs apps/worker, bullmq in its package.json)"
    assert worker.dev == ""  # it has its `dev` script

    # doctor's watcher advice reads that member's scripts: its `tsx watch` is named
    from tasks.drivers import dev_command
    from tasks.drivers.workers import complete
    from tasks.knowledge.settings import Settings

    s = complete(Settings.from_config({"workers": [{"name": "worker", "dir": "apps/worker"}]}, root=tmp_path))
    (line,) = dev_command.advice(s)
    assert "runs `tsx watch`" in line and "`dev: devstack-run -- tsx src/index.ts`" in line


def test_doctors_runner_advice_names_no_file_or_tool_that_is_missing(tmp_path):
    """`tsx watch` with no file named: the guessed src/index.ts is not there and tsx is not installed,
    so the fix is what adopt would write (compiled with tsc), never `tsx src/index.ts`."""
    from tasks.drivers import dev_command
    from tasks.drivers.workers import complete
    from tasks.knowledge.settings import Settings

    tree(
        tmp_path,
        {
            "package.json": {"name": "w", "main": "dist/main.js", "devDependencies": {"typescript": "5"}},
            "tsconfig.json": "{}",
            "src/main.ts": "",
        },
    )
    s = complete(Settings.from_config({"workers": [{"name": "w", "dir": ".", "dev": "tsx watch"}]}, root=tmp_path))
    (line,) = dev_command.advice(s)
    assert line.endswith("use the shipped runner: `dev: devstack-run --build tsc --watch src -- node dist/main.js`")
    (tmp_path / "package.json").write_text(json.dumps({"name": "w"}))
    (line,) = dev_command.advice(s)
    assert line.endswith("`dev: devstack-run -- node <its entry file>`") and "src/index.ts" not in line


def test_services_bind_mounting_a_root_that_uses_bullmq_are_workers_by_what_they_run(tmp_path):
    """The root's package.json has bullmq (its members' hoisted dependency): an echo server, a Postgres
    with a mounted config file and a client are not workers; the file that imports bullmq is, and a
    member the working_dir lands in is, each with its own evidence."""
    tree(
        tmp_path,
        {
            "package.json": {"name": "mono", "dependencies": {"bullmq": "5"}},
            "echo.js": "require('http').createServer().listen(8080)\n",
            "jobs.js": "const { Worker } = require('bullmq');\n",
            "pg.conf": "",
            "apps/mailer/package.json": {"name": "mailer", "dependencies": {"bullmq": "5"}},
        },
    )
    root = tmp_path.as_posix()
    mount = [{"type": "bind", "source": root, "target": "/app"}]
    services = {
        "echo": {"image": "node:24", "volumes": mount, "working_dir": "/app", "command": ["node", "echo.js"]},
        "db": {
            "image": "postgres:16",
            "volumes": [{"type": "bind", "source": f"{root}/pg.conf", "target": "/etc/postgresql/postgresql.conf"}],
            "command": ["postgres", "-c", "config_file=/etc/postgresql/postgresql.conf"],
        },
        "store-client": {"image": "minio/mc", "volumes": mount, "working_dir": "/app"},
        "jobs": {"image": "node:24", "volumes": mount, "working_dir": "/app", "command": ["node", "jobs.js"]},
        "mailer": {"image": "node:24", "volumes": mount, "working_dir": "/app/apps/mailer", "command": "npm start"},
    }
    found = proposals(tmp_path, services)
    assert sorted(found) == ["jobs", "mailer"]
    assert found["jobs"].reason == "runs . (jobs.js imports bullmq)"
    assert found["mailer"].reason == "runs apps/mailer (bullmq in its package.json)"


def test_a_second_compose_file_with_workers_is_named(tmp_path):
    tree(tmp_path, {"apps/sync/package.json": {"name": "sync", "dependencies": {"bullmq": "5"}}})
    beside = {
        "docker-compose.yml",
        "docker-compose.workers.yml",
        "docker-compose.override.yml",
        "compose.devstack.yaml",
    }
    others = adopt_plan.other_compose_files(["docker-compose.yml", "docker-compose.override.yml"], beside)
    assert others == ["docker-compose.workers.yml"]
    services = {"email-worker": {"image": "x"}, "sync": {"build": "./apps/sync"}, "cache": {"image": "redis"}}
    assert adopt_plan.worker_like(services, workspace.packages(tmp_path), ".") == ["email-worker", "sync"]
    assert adopt_plan.other_compose_files(["infra/compose.yaml"], {"compose.yaml", "compose.jobs.yaml"}) == [
        "infra/compose.jobs.yaml"
    ]


def test_the_env_file_the_docs_pass_is_found():
    readme = "Start it: `docker compose --env-file ./services/local/docker.env up`\n"
    scripts = '{"scripts": {"up": "docker compose --env-file=.env.dev up"}}'
    assert adopt_plan.env_files_passed({"README.md": readme, "package.json": scripts}) == [
        ("README.md", "services/local/docker.env"),
        ("package.json", ".env.dev"),
    ]


def test_the_workers_invoke_yaml_lists_are_read_by_service():
    text = "workers:\n  - name: jobs\n  - name: mail\n    service: mail-worker\n"
    assert adopt_config.listed_workers(text) == ["jobs", "mail-worker"]
    assert adopt_config.listed_workers("compose:\n  files: a.yml\n") == []
    assert adopt_config.listed_workers(None) == []
    assert adopt_config.listed_workers("workers: [") == []  # merge says what is wrong with it


def test_propose_still_refuses_an_unknown_named_service(tmp_path):
    with pytest.raises(UserError, match="no service 'nope'"):
        propose({"services": {"a": {}}}, tmp_path.as_posix(), {}, ["nope"])


def _adopt_here(tmp_path: Path, services: dict, *args: str, **kwargs: object) -> str:
    """`inv adopt` in ``tmp_path`` with Compose's answer faked (its config of ``services``): its output."""
    import contextlib
    import importlib
    import io

    from invoke.config import Config
    from invoke.context import Context

    from tests import fakes

    adopt_task = importlib.import_module("tasks.adopt")  # the module (the package exports the task)

    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    config = Config(overrides={"state": {"dir": str(tmp_path / "state")}})
    config.set_project_location(str(tmp_path))
    gw = fakes.FakeGateway()
    gw.on(r" config --format json", stdout=json.dumps({"name": "p", "services": services}))
    out = io.StringIO()
    with fakes.installed(gw), contextlib.redirect_stdout(out):
        adopt_task.adopt(Context(config=config), *args, **kwargs)
    return out.getvalue()


def test_a_plain_rerun_keeps_the_users_choice_of_workers(tmp_path):
    """After `--worker jobs` left the echo worker out, a plain re-run keeps the list and says so (it used to
    refuse: "invoke.yaml already lists workers and lacks echo-worker")."""
    services = {"jobs": {"image": "node:24"}, "echo-worker": {"image": "node:24"}}
    first = _adopt_here(tmp_path, services, worker=["jobs"])
    assert "worker jobs: named with --worker" in first
    written = (tmp_path / "invoke.yaml").read_text()
    again = _adopt_here(tmp_path, services)
    assert (tmp_path / "invoke.yaml").read_text() == written
    assert (
        "not adopted: echo-worker (its name): invoke.yaml's workers leave it out, kept so; to adopt it too, add "
        "under `workers:` - name: echo-worker / profile: workers / dir: . / build_mode: none" in again
    )
    assert "worker jobs: listed in invoke.yaml" in again and "invoke.yaml: unchanged" in again


def test_env_file_is_recorded_and_a_missing_one_refused(tmp_path):
    (tmp_path / "services/local").mkdir(parents=True)
    (tmp_path / "services/local/docker.env").write_text("X=1\n")
    _adopt_here(tmp_path, {"worker": {"image": "node:24"}}, env_file="services/local/docker.env")
    assert "  env_file: services/local/docker.env\n" in (tmp_path / "invoke.yaml").read_text()
    with pytest.raises(UserError, match=r"^--env-file nope\.env: no such file \(nothing written\)$"):
        _adopt_here(tmp_path, {"worker": {"image": "node:24"}}, env_file="nope.env")


def test_a_second_files_workers_are_found_by_what_they_run_not_only_by_their_name(tmp_path):
    """A pulled image named like a member, a member's sources bind-mounted (short syntax, the file's own
    folder) with its working_dir: workers, though neither is named *worker*; a server (it publishes a
    port), a migration and a file of the root that imports no queue library: not."""
    tree(
        tmp_path,
        {
            "package.json": {"name": "acme", "dependencies": {"bullmq": "6"}},
            "tools/echo.js": "require('http').createServer().listen(8080)\n",
            "apps/workers/package.json": {"name": "@acme/workers", "dependencies": {"bullmq": "6"}},
            "apps/mailer/package.json": {"name": "@acme/mailer", "dependencies": {"bullmq": "6"}},
            "apps/api/package.json": {"name": "@acme/api", "dependencies": {"bullmq": "6"}},
        },
    )
    node = "${NODE_IMAGE:-node:22}"
    services: dict[str, dict[str, object]] = {
        "jobs": {"image": "${WORKERS_IMAGE:-registry.example.com/acme/workers:latest}", "command": "node dist/w.js"},
        "mailer": {"image": node, "working_dir": "/app/apps/mailer", "volumes": ["./:/app:ro"], "command": "npm start"},
        "api": {"image": node, "working_dir": "/app/apps/api", "volumes": [".:/app"], "ports": ["3000:3000"]},
        "migrate": {"image": node, "working_dir": "/app/apps/api", "volumes": [".:/app"], "command": "node migrate.js"},
        "echo": {"image": node, "working_dir": "/app", "volumes": [".:/app"], "command": ["node", "tools/echo.js"]},
        "queue": {"image": "${REDIS_IMAGE:-redis:7}"},
    }
    assert adopt_plan.worker_like(services, workspace.packages(tmp_path), ".") == ["jobs", "mailer"]
    # the same file one folder down: its `..` is the root
    down = {"mailer": {**services["mailer"], "volumes": [{"type": "bind", "source": "..", "target": "/app"}]}}
    assert adopt_plan.worker_like(down, workspace.packages(tmp_path), "infra") == ["mailer"]


def test_no_worker_in_the_files_read_names_the_file_beside_them_that_holds_them(tmp_path):
    """The main file holds an API and a migration only; the workers are in docker-compose.workers.yml:
    the note and the error both give the `inv adopt --file ... --file ...` line, and nothing is written."""
    tree(
        tmp_path,
        {
            "package.json": {"name": "acme"},
            "apps/workers/package.json": {"name": "@acme/workers", "dependencies": {"bullmq": "6"}},
            "apps/api/package.json": {"name": "@acme/api", "dependencies": {"bullmq": "6"}},
            "docker-compose.workers.yml": "services:\n  jobs:\n    image: registry.example.com/acme/workers:1\n",
        },
    )
    root = tmp_path.as_posix()
    api = {
        "image": "node:22",
        "working_dir": "/app/apps/api",
        "volumes": [{"type": "bind", "source": root, "target": "/app"}],
    }
    services = {"api": {**api, "ports": [{"target": 3000}]}, "migrate": {**api, "command": ["node", "migrate.js"]}}
    line = "inv adopt --file docker-compose.yml --file docker-compose.workers.yml"
    with pytest.raises(UserError) as refused:
        _adopt_here(tmp_path, services)
    assert str(refused.value) == (
        "no worker service in docker-compose.yml (services: api, migrate); docker-compose.workers.yml holds jobs: "
        f"`{line}` (nothing written)"
    )
    assert not (tmp_path / "invoke.yaml").exists() and not (tmp_path / "compose.devstack.yaml").exists()
