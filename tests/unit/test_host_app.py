"""tasks/drivers/host_app.py: the image-built worker's source fingerprint."""

from __future__ import annotations

from pathlib import Path

from invoke.config import Config

from tasks.drivers.host_app import source_fingerprint
from tasks.knowledge.build_context import BuildInputs
from tasks.knowledge.defaults import DEFAULTS
from tasks.knowledge.settings import Settings


def test_the_tasks_own_state_folder_is_not_part_of_a_copy_everything_build(tmp_path: Path) -> None:
    """`COPY . .` takes the whole context; the tasks write their cache and session records under
    `.devstack/` at the root on every call, which must not make the next `worker.up` rebuild."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.ts").write_text("console.log(1)\n")
    (tmp_path / "package.json").write_text('{"name": "app"}\n')
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM node\nCOPY . .\n")
    state = tmp_path / ".devstack"
    state.mkdir()
    (state / "compose-config.json").write_text("{}")
    s = Settings.from_config(
        Config(defaults=DEFAULTS, overrides={"app": {"build_mode": "image"}}),
        root=tmp_path,
    )
    before = source_fingerprint(s, BuildInputs(tmp_path, dockerfile))
    (state / "compose-config.json").write_text('{"changed": true}')
    (state / "proj" / "worker").mkdir(parents=True)
    (state / "proj" / "worker" / "guardian.log").write_text("restored\n")
    assert source_fingerprint(s, BuildInputs(tmp_path, dockerfile)) == before
    (tmp_path / "src" / "main.ts").write_text("console.log(2)\n")
    assert source_fingerprint(s, BuildInputs(tmp_path, dockerfile)) != before
