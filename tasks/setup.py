"""`inv setup`: a fresh clone to a running background worker in one command."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task


@task
def setup(c: Context) -> None:
    """Create .env if needed, install and build the apps, start every worker.

    Every background worker is started once the apps' dependencies are installed and they are built."""
    from . import env, worker
    from .drivers import host_app, workers
    from .knowledge.failures import UserError

    env.init(c)
    selected = workers.select(c, None)
    for s in selected:  # before any install: a frozen install on a lock file out of step only fails later
        problem = workers.lock_out_of_step(s)
        if problem:
            raise UserError(f"{s.worker_name}: {problem} (nothing installed)")
    installed: set[tuple[str, str]] = set()
    for s in selected:
        key = (s.app_install, str(s.install_cwd or s.app_dir))
        if key not in installed:  # the workers of one workspace share one install
            installed.add(key)
            host_app.run_app_command(s, s.app_install, "install")
    worker.up(c, name="", build=True)
