"""`inv setup` on a throwaway copy of the repository: .env created, dependencies installed, app built,
every background worker started, against a real engine (the install is the real `npm ci`, from npm's
cache when it can)."""

from __future__ import annotations

import subprocess

import pytest

from .stackenv import INV, ROOT

pytestmark = pytest.mark.docker


@pytest.fixture
def bare_checkout(tmp_path):
    """The committed files only: no .env, no node_modules, no dist."""
    target = tmp_path / "checkout"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, files.split("\0")):
        src, dst = ROOT / rel, target / rel
        if not src.is_file():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
        dst.chmod(src.stat().st_mode)
    for missing in (".env", "node_modules", "dist"):
        assert not (target / missing).exists()
    return target


def test_setup_creates_env_installs_builds_and_starts_the_worker(stack, bare_checkout):
    image = f"devstack-worker:{stack.project}"
    stack.write_env(WORKER_IMAGE=image)
    # The example this checkout's .env is created from: the test's own project, ports and images.
    example = stack.tmp / "setup.env.example"
    example.write_text(stack.env_file.read_text())
    stack.env_file.unlink()
    env = {**stack.environ, "INVOKE_COMPOSE_ENV_EXAMPLE": str(example), "npm_config_prefer_offline": "true"}

    def setup():
        return subprocess.run(
            [*INV, "setup"],
            cwd=bare_checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )

    try:
        first = setup()
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert f"created {stack.env_file} from {example}" in first.stdout, first.stdout  # outside the root: whole paths
        assert stack.env_file.read_text() == example.read_text()
        # installed: npm ci wrote the workspace's node_modules
        assert (bare_checkout / "node_modules/.package-lock.json").is_file()
        assert (bare_checkout / "node_modules/bullmq/package.json").is_file()
        # built: the compiled worker exists in the copy
        assert (bare_checkout / "dist/apps/worker/main.js").is_file()
        # started: the background worker runs the image built from this copy and takes jobs
        assert stack.ps() == {"postgres": "running", "redis": "running", "worker": "running"}
        stack.produce("setup", 3)
        assert {by for _, by in stack.wait_rows("setup", 3)} == {"background"}

        again = setup()
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        assert f"{stack.env_file.name} already exists; left as it is" in again.stdout
    finally:
        stack.down()
        subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True)
