"""A dev command for a worker without a `dev` script (tasks/knowledge/dev_entry.py), per shape, on small
workspace trees: the entry from the compose command, the Dockerfile's CMD, `start`, `main`, `bin`."""

from __future__ import annotations

import json
from pathlib import Path

from tasks.drivers import workspace
from tasks.knowledge import dev_entry
from tasks.knowledge.adopt_plan import propose
from tasks.knowledge.build_context import image_command


def tree(root: Path, files: dict[str, object]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content) if isinstance(content, dict) else str(content))


def plan_for(root: Path, member: str, raw: dict, image: tuple | None = None) -> dev_entry.DevPlan:
    packages = workspace.packages(root)
    return dev_entry.plan(packages[member], packages, raw, image, workspace.Tree(root))


def test_compose_command_on_compiled_output_runs_its_typescript_source_through_tsx(tmp_path):
    """The issue's shape: no `dev` script, `command: node ./dist/workers.js`, TypeScript built with tsc;
    tsx in the workspace root."""
    tree(
        tmp_path,
        {
            "package.json": {"name": "acme", "devDependencies": {"tsx": "4"}},
            "apps/workers/package.json": {"name": "@acme/workers", "scripts": {"build": "tsc"}},
            "apps/workers/src/workers.ts": "",
        },
    )
    plan = plan_for(tmp_path, "apps/workers", {"command": ["node", "./dist/workers.js"], "working_dir": "/app"})
    assert plan.command == "devstack-run --watch src -- node --import tsx src/workers.ts"
    assert plan.line == (
        "no `dev` script in apps/workers/package.json: dev is the shipped runner on src/workers.ts (the source of "
        "dist/workers.js, from its compose command), through tsx"
    )


def test_dockerfile_cmd_without_tsx_compiles_with_tsc_before_each_start(tmp_path):
    tree(
        tmp_path,
        {
            "apps/jobs/package.json": {"name": "jobs", "devDependencies": {"typescript": "5"}},
            "apps/jobs/tsconfig.json": "{}",
            "apps/jobs/src/index.ts": "",
            "apps/jobs/Dockerfile": (
                "FROM node:24 AS build\nWORKDIR /app\nCOPY . .\nRUN npx tsc\n"
                'FROM build AS run\nCMD ["node", "/app/dist/index.js"]\n'
            ),
        },
    )
    image = image_command((tmp_path / "apps/jobs/Dockerfile").read_text())
    assert image.workdir == "/app" and image.cmd == ["node", "/app/dist/index.js"]
    plan = plan_for(tmp_path, "apps/jobs", {}, (image.entrypoint, image.cmd, image.workdir))
    assert plan.command == "devstack-run --build tsc --watch src -- node dist/index.js"
    assert "from its Dockerfile's CMD), compiled by `tsc` before each start (the workspace has no tsx)" in plan.line


def test_start_script_main_and_bin_and_plain_javascript(tmp_path):
    tree(
        tmp_path,
        {
            "a/package.json": {"name": "a", "scripts": {"start": "node -r dotenv/config build/main.js"}},
            "a/src/main.ts": "",
            "a/node_modules/.bin/tsx": "",
            "b/package.json": {"name": "b", "main": "lib/index.js", "dependencies": {"tsx": "4"}},
            "b/src/index.ts": "",
            "c/package.json": {"name": "c", "bin": {"c": "./worker.js"}},
            "c/worker.js": "",
        },
    )
    assert plan_for(tmp_path, "a", {}).command == "devstack-run --watch src -- node --import tsx src/main.ts"
    assert "from its `start` script" in plan_for(tmp_path, "a", {}).line
    assert plan_for(tmp_path, "b", {}).command == "devstack-run --watch src -- node --import tsx src/index.ts"
    assert plan_for(tmp_path, "c", {}).command == "devstack-run -- node worker.js"


def test_a_path_from_the_workspace_root_and_a_shell_form_command(tmp_path):
    tree(
        tmp_path,
        {
            "package.json": {"name": "r", "devDependencies": {"tsx": "4"}, "workspaces": ["apps/*"]},
            "apps/w/package.json": {"name": "w"},
            "apps/w/src/main.mts": "",
        },
    )
    raw = {"command": ["sh", "-c", "node apps/w/dist/main.mjs"], "working_dir": "/repo"}
    assert plan_for(tmp_path, "apps/w", raw).command == "devstack-run --watch src -- node --import tsx src/main.mts"


def test_nothing_named_that_does_not_exist(tmp_path):
    """No entry found, or TypeScript with neither tsx nor tsc: no command, and the line says what to set."""
    tree(
        tmp_path,
        {
            "x/package.json": {"name": "x"},
            "y/package.json": {"name": "y", "main": "dist/index.js"},
            "y/src/index.ts": "",
            "z/package.json": {"name": "z", "main": "dist/gone.js"},
        },
    )
    none = plan_for(tmp_path, "x", {"command": ["node", "dist/index.js"]})
    assert none.command == "" and "no entry file found" in none.line and "set its `dev:`" in none.line
    no_tools = plan_for(tmp_path, "y", {})
    assert no_tools.command == "" and "neither tsx nor tsc" in no_tools.line
    # a compiled file whose source is not in the workspace is never run from dist/
    assert plan_for(tmp_path, "z", {}).command == ""


def test_adopt_writes_the_dev_command_only_for_a_package_without_its_script(tmp_path):
    tree(
        tmp_path,
        {
            "package.json": {"name": "r", "devDependencies": {"tsx": "4"}},
            "apps/a/package.json": {"name": "a", "dependencies": {"bullmq": "5"}},
            "apps/a/src/main.ts": "",
            "apps/b/package.json": {"name": "b", "dependencies": {"bullmq": "5"}, "scripts": {"dev": "tsx src/x.ts"}},
        },
    )
    root = tmp_path.as_posix()
    services = {
        "a": {"build": {"context": f"{root}/apps/a"}, "command": ["node", "dist/main.js"]},
        "b": {"build": {"context": f"{root}/apps/b"}},
    }
    found = propose({"services": services}, root, workspace.packages(tmp_path), files=workspace.Tree(tmp_path))
    a, b = found
    assert a.entry()["dev"] == "devstack-run --watch src -- node --import tsx src/main.ts"
    assert "dev" not in b.entry() and b.dev_line == ""


def test_an_entry_outside_the_package_is_watched_in_its_own_folder_not_the_workspaces(tmp_path):
    """A JavaScript entry built outside the package (`../../dist/apps/worker/main.js`, the repository
    root's dist/): `--watch ..` would watch the workspace's whole folder."""
    tree(
        tmp_path,
        {
            "package.json": {"name": "acme", "workspaces": ["apps/*"]},
            "apps/worker/package.json": {
                "name": "@acme/worker",
                "scripts": {"start": "node ../../dist/apps/worker/main.js"},
            },
            "dist/apps/worker/main.js": "",
        },
    )
    plan = plan_for(tmp_path, "apps/worker", {})
    assert plan.command == "devstack-run --watch ../../dist/apps/worker -- node ../../dist/apps/worker/main.js", plan
