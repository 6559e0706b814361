"""`inv setup`: a fresh clone to a running background worker in one command."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task


@task
def setup(c: Context) -> None:
    """Create .env if needed, install the app's dependencies, build it and start the background worker."""
    from tasks import env, worker
    from tasks.drivers import host_app
    from tasks.knowledge.settings import settings

    s = settings(c)
    env.init(c)
    host_app.run_app_command(s, s.app_install, "install")
    worker.up(c, build=True)
