"""Settings: one worker model for both forms of invoke.yaml, strict keys, lists, INVOKE_* overrides,
and the per-worker dev environment (pure, plus Invoke's own Config loading)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from invoke.config import Config

from tasks.drivers import dev_preflight, stack_facts
from tasks.knowledge.defaults import DEFAULTS, PROJECT_KEYS, WORKER_KEYS, WorkerSettings
from tasks.knowledge.failures import UserError
from tasks.knowledge.settings import PROJECT_ROOT, Settings
from tasks.knowledge.stack_config import parse_config

ROOT = Path("/repo")


def settings_from(extra: dict, root: Path = ROOT) -> Settings:
    config = {**DEFAULTS, **extra}
    return Settings.from_config(config, root)


def error_of(extra: dict) -> str:
    with pytest.raises(UserError) as error:
        settings_from(extra)
    return error.value.reason


def invoke_config(tmp_path: Path, text: str) -> Config:
    """Invoke's own loading: DEFAULTS, then an invoke.yaml, then the INVOKE_* variables."""
    (tmp_path / "invoke.yaml").write_text(text)
    config = Config(defaults=DEFAULTS, project_location=tmp_path)
    config.load_project()
    config.load_shell_env()
    return config


# -- one worker model --------------------------------------------------------------------------
SHOP = {
    "workers": [
        {"name": "email", "profile": "workers", "dir": "apps/email", "build_mode": "none"},
        {"name": "sync", "service": "sync-worker", "dir": "apps\\sync", "dist_main": "apps/sync/dist/main.js"},
    ]
}


def test_workers_list_and_the_default_worker_keeps_the_single_worker_attributes():
    s = settings_from(SHOP)
    assert [w.name for w in s.workers] == ["email", "sync"]
    assert (s.service, s.profile, s.app_dir, s.build_mode, s.worker_name) == (
        "email",
        "workers",
        ROOT / "apps/email",
        "none",
        "email",
    )
    sync = s.worker("sync")
    assert sync.service == "sync-worker" and sync.app_dir == ROOT / "apps/sync"  # backslashes are separators
    assert sync.build_mode == "host" and sync.app_sources == ROOT / "apps/sync/src"
    assert sync.current is s.workers[1]
    assert s.worker("sync-worker") == sync  # the service name works too
    assert [w.service for w in s.selected(None)] == ["email", "sync-worker"]
    assert [w.service for w in s.selected("sync")] == ["sync-worker"]
    assert s.app_dev == "" and s.app_install == ""  # empty: detected from the lock file


SINGLE: dict[str, dict[str, Any]] = {
    "worker": {"service": "jobs", "profile": "workers", "image": "jobs:local"},
    "app": {
        "dir": "apps/jobs",
        "dev": "node dev.mjs",
        "start_gate": True,
        "dist_main": "dist/jobs/main.js",
        "dev_env": {"NODE_ENV": "development"},
    },
}
AS_ENTRY = {
    "service": "jobs",
    "profile": "workers",
    "image": "jobs:local",
    "dir": "apps/jobs",
    "dev": "node dev.mjs",
    "start_gate": True,
    "dist_main": "dist/jobs/main.js",
    "dev_env": {"NODE_ENV": "development"},
}


def test_the_single_worker_form_is_the_one_entry_list():
    single = settings_from({section: {**DEFAULTS[section], **SINGLE[section]} for section in ("worker", "app")})
    listed = settings_from({"workers": [AS_ENTRY]})
    assert single == listed
    assert single.workers == (
        WorkerSettings(
            name="jobs",
            service="jobs",
            profile="workers",
            image="jobs:local",
            consume_within=60.0,
            app_dir=ROOT / "apps/jobs",
            app_install="",
            app_build="",
            app_dev="node dev.mjs",
            app_start_gate=True,
            app_redis_relay=True,
            dist_main=ROOT / "dist/jobs/main.js",
            app_sources=ROOT / "apps/jobs/src",
            build_mode="host",
            dev_env={"NODE_ENV": "development"},
            caps_from="",
        ),
    )


def test_the_defaults_are_the_same_in_both_forms():
    """build_mode included: `host` when dist_main is set, else `none`, whichever form."""
    bare = settings_from({})
    assert bare.workers == settings_from({"workers": [{}]}).workers
    assert (bare.service, bare.worker_name, bare.profile, bare.app_dir, bare.build_mode) == (
        "worker",
        "worker",
        "",
        ROOT,
        "none",
    )
    assert (bare.dist_main, bare.app_sources, bare.current.dev_env) == (ROOT / "dist/main.js", ROOT / "src", {})
    with_dist = {"dist_main": "out/main.js"}
    assert settings_from({"app": {**DEFAULTS["app"], **with_dist}}).build_mode == "host"
    assert settings_from({"workers": [with_dist]}).build_mode == "host"
    assert bare.selected(None) == [bare] and bare.worker(None) is bare
    named = settings_from({"workers": [{"name": "email"}]})
    assert (named.service, named.worker_name) == ("email", "email")


def test_with_workers_the_single_worker_keys_are_not_read():
    """A project invoke.yaml in the single form and an `inv -f` file with a list may be layered."""
    s = settings_from({**SINGLE, **SHOP})
    assert [w.name for w in s.workers] == ["email", "sync"] and s.worker_image == ""


def test_a_missing_section_takes_the_defaults():
    s = Settings.from_config({}, ROOT)
    assert s.env_file is None and s.state_dir == ROOT / ".devstack" and s.service == "worker"
    assert s.url_vars == ("DATABASE_URL", "REDIS_URL")


def test_invoke_config_defaults_and_overrides():
    s = Settings.from_config(Config(defaults=DEFAULTS))
    assert s.service == "worker" and s.env_example == PROJECT_ROOT / ".env.example"
    custom = Settings.from_config(
        Config(defaults=DEFAULTS, overrides={"worker": {"service": "jobs"}, "compose": {"env_file": "/abs/x.env"}})
    )
    assert custom.service == "jobs" and str(custom.env_file) == "/abs/x.env"


def test_this_repository_invoke_yaml_is_read_without_complaint():
    s = Settings.from_config(
        Config(defaults=DEFAULTS, overrides=yaml.safe_load((PROJECT_ROOT / "invoke.yaml").read_text()))
    )
    assert (s.service, s.profile, s.build_mode, s.app_start_gate) == ("worker", "worker", "host", True)
    assert s.dist_main == PROJECT_ROOT / "dist/apps/worker/main.js"


def test_every_declared_key_has_a_default_that_invoke_can_override():
    """Invoke casts INVOKE_* variables to the default's type and cannot cast into a list."""
    for key in (*PROJECT_KEYS, *WORKER_KEYS):
        assert DEFAULTS[key.section][key.name] == key.default
        assert not isinstance(key.default, list | tuple), key.path
    assert [k.attr for k in WORKER_KEYS] == list(WorkerSettings.__dataclass_fields__)


def test_the_defaults_module_stays_a_cheap_import():
    """`inv --list` imports it on every call: nothing beyond what Invoke already loaded."""
    code = (
        "import sys, importlib.util, invoke.collection, invoke.config, invoke.program; before = set(sys.modules); "
        "spec = importlib.util.spec_from_file_location('defaults', 'tasks/knowledge/defaults.py'); "
        "m = sys.modules['defaults'] = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
        "print(sorted(set(sys.modules) - before - {'__future__', 'defaults'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- several workers: one clear line ------------------------------------------------------------
@pytest.mark.parametrize(
    ("workers", "message"),
    [
        ([{"name": "a"}, {"name": "a"}], "workers: a named more than once"),
        ([{"dir": "x"}, {}], "workers: worker named more than once"),
        ([{"name": "a", "bild": "x"}], "workers[0].bild: unknown key; did you mean build?"),
        (
            [{"name": "a", "build_mode": "docker"}],
            "workers[0].build_mode: expected one of host, image, none, got 'docker'",
        ),
        ("email", "workers: expected a list of worker entries, got 'email' (see docs/configuration.md)"),
        (["email"], "workers[0]: expected a mapping with at least `name` or `service`, got 'email'"),
    ],
)
def test_bad_workers_entries_are_one_clear_error(workers, message):
    assert error_of({"workers": workers}) == message


def test_an_unknown_worker_name_lists_the_known_ones():
    with pytest.raises(UserError) as error:
        settings_from(SHOP).worker("mail")
    assert error.value.reason == "no worker named 'mail' in invoke.yaml (workers: email, sync)"


# -- strict keys ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"app": {"strat_gate": True}}, "app.strat_gate: unknown key; did you mean start_gate?"),
        ({"worker": {"servce": "jobs"}}, "worker.servce: unknown key; did you mean service?"),
        ({"compose": {"flies": "a.yml"}}, "compose.flies: unknown key; did you mean files?"),
        ({"worker": {"dir": "apps/x"}}, "worker.dir: unknown key; did you mean app.dir?"),
        ({"state": {"folder": "x"}}, "state.folder: unknown key (known: dir)"),
        ({"workers": [{"name": "a", "dev_evn": {}}]}, "workers[0].dev_evn: unknown key; did you mean dev_env?"),
    ],
)
def test_an_unknown_key_names_the_nearest_known_one(extra, message):
    assert error_of(extra) == message


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"app": {"start_gate": "yes please"}}, "app.start_gate: expected true/false, got 'yes please'"),
        ({"worker": {"service": ["a"]}}, "worker.service: expected a string, got a list"),
        ({"app": {"build_mode": "docker"}}, "app.build_mode: expected one of host, image, none, got 'docker'"),
        ({"dev": {"url_vars": ["A", {"B": 1}]}}, "dev.url_vars[1]: expected a string, got a mapping"),
        (
            {"app": {"dev_env": "NODE_ENV=development"}},
            "app.dev_env: expected a mapping of NAME: value, got 'NODE_ENV=development'",
        ),
        (
            {"app": {"dev_env": {"NODE_ENV": None}}},
            'app.dev_env.NODE_ENV: expected a string, got null (quote it: "" for an empty value)',
        ),
        ({"app": "apps/worker"}, "app: expected a mapping of keys, got 'apps/worker'"),
    ],
)
def test_a_wrong_type_is_one_line(extra, message):
    assert error_of(extra) == message


def test_invoke_own_sections_and_other_top_level_keys_are_left_alone():
    s = settings_from({"run": {"echo": True, "pty": False}, "tasks": {"dedupe": False}, "my_tasks": {"x": 1}})
    assert s.service == "worker"


def test_true_false_spelt_as_text_and_null_as_the_default():
    assert settings_from({"app": {"start_gate": "yes"}}).app_start_gate is True
    assert settings_from({"app": {"start_gate": "0"}}).app_start_gate is False
    assert settings_from({"app": {"dir": None, "start_gate": None}}).app_dir == ROOT


# -- lists -----------------------------------------------------------------------------------------
def test_a_yaml_list_and_a_comma_string_are_the_same():
    listed = settings_from(
        {
            "compose": {"files": ["a.yml", "b dev.yml"]},
            "dev": {"host_port_vars": ["QUEUE_HOST:QUEUE_PORT", "DB_HOST:DB_PORT"], "url_vars": ["QUEUE_URL"]},
        }
    )
    text = settings_from(
        {
            "compose": {"files": "a.yml, b dev.yml"},
            "dev": {"host_port_vars": "QUEUE_HOST:QUEUE_PORT,DB_HOST:DB_PORT", "url_vars": "QUEUE_URL"},
        }
    )
    assert listed == text
    assert listed.compose_files == ("a.yml", "b dev.yml")
    assert listed.host_port_vars == ("QUEUE_HOST:QUEUE_PORT", "DB_HOST:DB_PORT")
    assert settings_from({"compose": {"files": f"a.yml{os.pathsep}b.yml"}}).compose_files == ("a.yml", "b.yml")
    assert settings_from({"dev": {"url_vars": "A;B"}}).url_vars == ("A", "B")
    assert settings_from({"compose": {"files": ""}}).compose_files == ()


# -- Invoke's loading: invoke.yaml and INVOKE_* variables -------------------------------------------
def test_invoke_env_overrides_still_work(tmp_path, monkeypatch):
    monkeypatch.setenv("INVOKE_DEV_URL_VARS", "A,B")
    monkeypatch.setenv("INVOKE_COMPOSE_FILES", f"x.yml{os.pathsep}y.yml")
    monkeypatch.setenv("INVOKE_APP_START_GATE", "1")
    monkeypatch.setenv("INVOKE_WORKER_SERVICE", "jobs")
    monkeypatch.setenv("INVOKE_APP_DIST_MAIN", "out/main.js")
    s = Settings.from_config(invoke_config(tmp_path, "app:\n  dir: apps/jobs\n"), ROOT)
    assert s.url_vars == ("A", "B") and s.compose_files == ("x.yml", "y.yml")
    assert (s.service, s.app_start_gate, s.app_dir, s.build_mode) == ("jobs", True, ROOT / "apps/jobs", "host")


def test_invoke_yaml_lists_mappings_and_a_typo(tmp_path):
    text = "compose:\n  files: [a.yml, b.yml]\napp:\n  dev_env:\n    NODE_ENV: development\n    DEBUG: 1\n    TRACE: true\n"
    s = Settings.from_config(invoke_config(tmp_path, text), ROOT)
    assert s.compose_files == ("a.yml", "b.yml")
    assert s.current.dev_env == {"NODE_ENV": "development", "DEBUG": "1", "TRACE": "true"}
    with pytest.raises(UserError) as error:
        Settings.from_config(invoke_config(tmp_path, "app:\n  strat_gate: true\n"), ROOT)
    assert str(error.value.message) == "error: app.strat_gate: unknown key; did you mean start_gate?"


@pytest.mark.parametrize(
    ("var", "message"),
    [
        (
            "INVOKE_WORKER_SERVCE",
            "INVOKE_WORKER_SERVCE: unknown key worker.servce; did you mean INVOKE_WORKER_SERVICE?",
        ),
        (
            "INVOKE_APP_STRAT_GATE",
            "INVOKE_APP_STRAT_GATE: unknown key app.strat_gate; did you mean INVOKE_APP_START_GATE?",
        ),
        (
            "INVOKE_APP_DEV_ENV_NODE_ENV",
            "INVOKE_APP_DEV_ENV_NODE_ENV: app.dev_env is a mapping, which Invoke cannot set from a variable: "
            "set it in invoke.yaml, or the variable itself in your shell",
        ),
    ],
)
def test_a_misspelt_invoke_variable_is_named(var, message):
    """Invoke itself ignores a variable that names no known key."""
    with pytest.raises(UserError) as error:
        Settings.from_config(Config(defaults=DEFAULTS), ROOT, environ={var: "1"})
    assert error.value.reason == message


@pytest.mark.parametrize(
    "written, expected",
    [("false", False), ("no", False), ("Off", False), ("0", False), ("true", True), ("1", True), ("yes", True)],
)
def test_a_boolean_variable_means_what_it_says(monkeypatch, written, expected):
    """Invoke alone reads any value but 0 and the empty string as true (`false` too)."""
    monkeypatch.setenv("INVOKE_APP_START_GATE", written)
    config = Config(defaults=DEFAULTS)
    config.load_shell_env()  # Invoke's own cast, as `inv` does: `false` -> True
    assert config.app.start_gate is (written not in ("0", ""))
    assert Settings.from_config(config, ROOT, environ=os.environ).app_start_gate is expected


def test_a_boolean_variable_that_is_no_boolean_is_one_line():
    with pytest.raises(UserError) as error:
        Settings.from_config(Config(defaults=DEFAULTS), ROOT, environ={"INVOKE_APP_START_GATE": "maybe"})
    assert error.value.reason == "INVOKE_APP_START_GATE=maybe: expected true or false (1/0, yes/no, on/off)"


def test_other_invoke_variables_are_left_alone():
    config = Config(defaults=DEFAULTS, overrides={"app_name": {"x": "y"}})
    environ = {"INVOKE_APP_NAME_X": "z", "INVOKE_RUN_ECHO": "1", "INVOKE_APP_SOMETHING_ELSE": "1", "PATH": "/bin"}
    assert Settings.from_config(config, ROOT, environ=environ).service == "worker"


def test_inv_refuses_a_misspelt_key_in_one_line(tmp_path):
    """The real `inv`, with a runtime configuration: refused before any Docker call."""
    (tmp_path / "bad.yaml").write_text("app:\n  strat_gate: true\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "-f", str(tmp_path / "bad.yaml"), "worker.status"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: app.strat_gate: unknown key; did you mean start_gate?\n"


# -- dev_env: its one use ---------------------------------------------------------------------------
def test_dev_env_comes_over_compose_and_under_the_shell(monkeypatch):
    stack = parse_config(
        {"name": "p", "services": {"jobs": {"environment": {"NODE_ENV": "production", "LOG": "info", "KEEP": "x"}}}}
    )
    monkeypatch.setattr(stack_facts, "load", lambda compose: stack)
    s = settings_from(
        {
            "workers": [{"name": "jobs", "dev_env": {"NODE_ENV": "development", "LOG": "debug"}}],
            "dev": {"host_port_vars": "", "url_vars": ""},
        }
    )
    compose = SimpleNamespace(settings=s, dotenv=SimpleNamespace(values={}), containers=list)
    env = dev_preflight.environment(compose, scheduler=True, environ={"LOG": "trace"}).env  # type: ignore[arg-type]
    assert (env["NODE_ENV"], env["LOG"], env["KEEP"]) == ("development", "trace", "x")
    plain = settings_from({"workers": [{"name": "jobs"}], "dev": {"host_port_vars": "", "url_vars": ""}})
    compose.settings = plain
    # without dev_env a production NODE_ENV becomes development for the dev worker (said in a note) ...
    plain_env = dev_preflight.environment(compose, scheduler=True, environ={})  # type: ignore[arg-type]
    assert plain_env.env["NODE_ENV"] == "development" and len(plain_env.notes) == 1
    # ... and dev_env may keep production on purpose
    kept = settings_from(
        {
            "workers": [{"name": "jobs", "dev_env": {"NODE_ENV": "production"}}],
            "dev": {"host_port_vars": "", "url_vars": ""},
        }
    )
    compose.settings = kept
    assert dev_preflight.environment(compose, scheduler=True, environ={}).env["NODE_ENV"] == "production"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"prodlik": {"cpus": 2}}, "prodlik: unknown top-level section of the configuration; did you mean prodlike?"),
        (
            {"compse": {"files": "a.yml"}},
            "compse: unknown top-level section of the configuration; did you mean compose?",
        ),
        ({"wokers": []}, "wokers: unknown top-level section of the configuration; did you mean workers?"),
    ],
)
def test_a_misspelt_top_level_section_names_the_nearest_known_one(extra, message):
    assert error_of(extra) == message


def test_other_top_level_sections_are_left_alone(tmp_path):
    settings_from({"run": {"echo": True}, "my_project": {"x": 1}, "tasks": {"dedupe": True}})
    config = invoke_config(tmp_path, "run:\n  echo: true\nsudo:\n  prompt: x\n")
    Settings.from_config(config, root=tmp_path)


@pytest.mark.parametrize(
    ("written", "expected"), [("60s", 60.0), ("1m30s", 90.0), ("500ms", 0.5), (" never ", None), ("2m", 120.0)]
)
def test_consume_within_is_a_duration_or_never(written, expected):
    assert settings_from({"worker": {**DEFAULTS["worker"], "consume_within": written}}).current.consume_within == (
        expected
    )


@pytest.mark.parametrize("written", ["60", "soon", "0s", "", 60, True])
def test_consume_within_that_is_no_duration_is_one_line(written):
    reason = error_of({"worker": {**DEFAULTS["worker"], "consume_within": written}})
    assert reason.startswith("worker.consume_within: expected "), reason


def test_consume_within_per_worker_and_from_a_variable(monkeypatch):
    entries = [{"name": "a", "consume_within": "never"}, {"name": "b"}]
    s = settings_from({"workers": entries})
    assert [w.consume_within for w in s.workers] == [None, 60.0]
    monkeypatch.setenv("INVOKE_WORKER_CONSUME_WITHIN", "5s")
    config = Config(defaults=DEFAULTS)
    config.load_shell_env()
    assert Settings.from_config(config, ROOT, environ=os.environ).current.consume_within == 5.0
