"""Pure helpers: the dev worker's environment, the status view, settings from Invoke's config."""

from typing import Any

from invoke.config import Config

from tasks.knowledge.compose_cli import ContainerState
from tasks.knowledge.defaults import DEFAULTS
from tasks.knowledge.dev_env import dev_environment
from tasks.knowledge.settings import PROJECT_ROOT, Settings
from tasks.knowledge.status_view import render, uptime

DOTENV = {
    "REDIS_HOST_PORT": "16379",
    "POSTGRES_HOST_PORT": "15432",
    "POSTGRES_USER": "u",
    "POSTGRES_PASSWORD": "p w",
    "POSTGRES_DB": "d",
    "ENABLE_SCHEDULER": "true",
}


def test_dev_environment_points_at_published_ports():
    env = dev_environment(DOTENV, {"PATH": "/bin"}, scheduler=True)
    assert (env["REDIS_HOST"], env["REDIS_PORT"], env["PGHOST"], env["PGPORT"]) == (
        "127.0.0.1",
        "16379",
        "127.0.0.1",
        "15432",
    )
    assert (env["PGUSER"], env["PGPASSWORD"], env["PGDATABASE"]) == ("u", "p w", "d")
    assert env["ENABLE_SCHEDULER"] == "true" and env["WORKER_NAME"] == "dev" and env["PATH"] == "/bin"


def test_published_ports_set_in_the_shell_win_over_dotenv():
    env = dev_environment(DOTENV, {"POSTGRES_HOST_PORT": "25433", "REDIS_HOST_PORT": "26380"}, scheduler=True)
    assert (env["PGPORT"], env["REDIS_PORT"]) == ("25433", "26380")


def test_shell_wins_and_no_scheduler_wins_over_everything():
    env = dev_environment(DOTENV, {"REDIS_HOST": "cache.local", "ENABLE_SCHEDULER": "true"}, scheduler=False)
    assert env["REDIS_HOST"] == "cache.local" and env["ENABLE_SCHEDULER"] == "false"


def container(**kw: object) -> ContainerState:
    base: dict[str, Any] = dict(
        name="p-worker-1",
        service="worker",
        state="running",
        health="",
        status="Up 3 minutes",
        exit_code=0,
        labels={"dev.devstack.restart-policy": "unless-stopped", "dev.devstack.scheduler": "true"},
    )
    base.update(kw)
    return ContainerState(**base)


def test_status_view():
    text = render("worker", [container()])
    assert "worker: running" in text and "uptime:         3 minutes" in text and "scheduler:      on" in text
    assert "restart policy: unless-stopped" in text and "no healthcheck" in text
    stopped = render("worker", [container(state="exited", status="Exited (0) 2 seconds ago", exit_code=0, labels={})])
    assert "worker: exited (exit code 0)" in stopped and "uptime:         -" in stopped and "unknown" in stopped
    assert "not created" in render("worker", [])


def test_uptime_parsing():
    assert uptime("Up 5 minutes (healthy)") == "5 minutes"
    assert uptime("Up Less than a second") == "Less than a second"
    assert uptime("Exited (1) 3 seconds ago") == "-"


def test_settings_defaults_and_overrides():
    s = Settings.from_config(Config(defaults=DEFAULTS))
    assert s.service == "worker" and s.env_file == PROJECT_ROOT / ".env"
    assert s.dist_main == PROJECT_ROOT / "dist/apps/worker/main.js"
    custom = Settings.from_config(
        Config(defaults=DEFAULTS, overrides={"worker": {"service": "jobs"}, "compose": {"env_file": "/abs/x.env"}})
    )
    assert custom.service == "jobs" and str(custom.env_file) == "/abs/x.env"
