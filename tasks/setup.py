"""`inv setup`: a fresh clone to a running background worker in one command."""
from __future__ import annotations

from invoke import task

from tasks import app, envtasks, worker
from tasks.settings import settings


@task
def setup(c):
    """Create .env if needed, install the app's dependencies, build it and start the background worker."""
    s = settings(c)
    envtasks.init(c)
    app.run_app_command(s, s.app_install, "install")
    worker.up(c, build=True)
