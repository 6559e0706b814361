"""Does the app fork by itself, and how many under the plan's CPUs (tasks/knowledge/fork_scan.py, drivers/app_code.py)."""

from __future__ import annotations

from pathlib import Path

from tasks.knowledge import fork_scan
from tasks.knowledge.fork_scan import ForkSite

APP = Path(__file__).resolve().parents[2] / "apps" / "worker" / "src"

ISSUE_APP = """
import cluster from 'node:cluster';
import os from 'node:os';
const size = Number(process.env.CLUSTER_SIZE || os.cpus().length);
if (cluster.isPrimary) { for (let i = 0; i < 2 * size; i += 1) cluster.fork(); } else { require('./worker'); }
"""


def test_a_cluster_primary_forking_per_cpu():
    assert fork_scan.scan("src/index.ts", ISSUE_APP) == [ForkSite("src/index.ts", "node:cluster", True)]


def test_child_process_fork_and_require_forms():
    text = "const { fork } = require('child_process');\nfork('./job.js', [], {});\n"
    assert fork_scan.scan("a.js", text) == [ForkSite("a.js", "child_process.fork", False)]
    parallel = "import { fork } from 'node:child_process';\nconst n = availableParallelism();\nfork(x);"
    assert fork_scan.scan("b.mjs", parallel)[0].per_cpu


def test_what_does_not_fork():
    assert fork_scan.scan("a.ts", "import cluster from 'node:cluster';\nif (cluster.isWorker) run();\n") == []
    assert fork_scan.scan("b.ts", "import { spawn } from 'child_process';\nspawn('ls');\n") == []
    assert fork_scan.scan("c.ts", "git.fork(repo)\n") == []  # a fork( without cluster or child_process


def test_the_lines_say_how_many_under_the_planned_cpus():
    sites = [ForkSite("src/index.ts", "node:cluster", True)]
    lines = fork_scan.lines(
        sites, planned_cpus=1, planned_processes=1, visible_cpus=8, where="the Docker engine's CPUs"
    )
    assert lines[0].startswith("the app forks Node processes by itself (node:cluster in src/index.ts)")
    assert lines[1] == (
        "it forks one process per CPU (os.cpus()/availableParallelism()): under the planned 1-CPU cap that is still "
        "8 (the Docker engine's CPUs) plus its primary, because os.cpus() sees the host's CPUs, not the cap; plan "
        "with --processes 8, or size the fork count from the cap"
    )
    fixed = [ForkSite("src/cluster.ts", "node:cluster", False)]
    assert len(fork_scan.lines(fixed, planned_cpus=1, planned_processes=2, visible_cpus=8, where="x")) == 1
    assert fork_scan.lines([], planned_cpus=1, planned_processes=1, visible_cpus=8, where="x") == []


def test_the_example_app_s_sources_are_read_and_its_primary_found(tmp_path):
    from tasks.drivers import app_code
    from tasks.knowledge.settings import Settings

    s = Settings.from_config(
        {"app": {"dir": "apps/worker", "dist_main": "dist/apps/worker/main.js"}}, root=APP.parents[2]
    )
    assert app_code.folder(s) == APP
    assert app_code.fork_sites(s) == [ForkSite("apps/worker/src/cluster.ts", "node:cluster", False)]
    bundle = tmp_path / "src"
    bundle.mkdir()
    (bundle / "big.js").write_text(ISSUE_APP + "//" + "x" * app_code.MAX_BYTES)  # a bundle: not the app's code
    (bundle / "main.test.ts").write_text(ISSUE_APP)
    other = Settings.from_config({}, root=tmp_path)
    assert app_code.fork_sites(other) == []


def test_a_fork_in_a_shared_package_the_worker_loads_is_found_not_one_in_a_dependency(tmp_path):
    """A monorepo's worker often starts its cluster from a shared package: followed by a relative path
    and through a workspace link (node_modules/@acme/runtime -> packages/runtime); a real dependency
    under node_modules is not the app's code."""
    from tasks.drivers import app_code
    from tasks.knowledge.settings import Settings

    def write(relative: str, text: str) -> None:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)

    write(
        "apps/worker/src/main.ts",
        "import { start } from '@acme/runtime';\nimport './boot.js';\nimport { Worker } from 'bullmq';\nstart();\n",
    )
    write("apps/worker/src/boot.ts", "import '../../../libs/jobs/index.js';\n")  # `.js` naming a `.ts`
    write("libs/jobs/index.js", "const { fork } = require('child_process');\nfork('./job.js');\n")
    write("packages/runtime/src/index.ts", ISSUE_APP)
    write("packages/runtime/package.json", '{"name": "@acme/runtime"}')
    write("apps/worker/node_modules/bullmq/dist/index.js", ISSUE_APP)  # BullMQ itself forks: not ours
    (tmp_path / "node_modules/@acme").mkdir(parents=True)
    (tmp_path / "node_modules/@acme/runtime").symlink_to(tmp_path / "packages/runtime")
    (tmp_path / "packages/runtime/loop").symlink_to(tmp_path / "packages/runtime")  # read once
    s = Settings.from_config({"app": {"dir": "apps/worker"}}, root=tmp_path)
    assert sorted(app_code.fork_sites(s), key=lambda site: site.file) == [
        ForkSite("libs/jobs/index.js", "child_process.fork", False),
        ForkSite("packages/runtime/src/index.ts", "node:cluster", True),
    ]
