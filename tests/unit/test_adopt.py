"""`inv adopt`'s planner, the overrides it renders and its invoke.yaml merge, on real `config --format json`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tasks.knowledge import adopt_config, adopt_plan, lock_sync
from tasks.knowledge.adopt_apps import Package
from tasks.knowledge.adopt_plan import propose
from tasks.knowledge.failures import UserError
from tasks.knowledge.prod_verify import PROBE_SCRIPT, parse_probe, probe_failure

DATA = Path(__file__).parent / "data"
COMPOSE = DATA / "compose"
GOLDEN = DATA / "adopt"


def config(name: str) -> dict:
    return json.loads((COMPOSE / name).read_text())


SHOP_PACKAGES = {
    ".": Package(".", "shop", frozenset({"bullmq", "ioredis", "pg", "esbuild"})),
    "apps/email": Package("apps/email", "@shop/email"),
    "apps/sync": Package("apps/sync", "@shop/sync"),
    "packages/queue-worker": Package("packages/queue-worker", "@shop/queue-worker"),
}


def test_shop_workers_found_through_build_context_and_bind_mounted_command():
    proposals = propose(config("shop-unadapted.v5.6.1.json"), "/project", SHOP_PACKAGES)
    assert [(p.service, p.app_dir, p.build_mode, p.profile) for p in proposals] == [
        ("email", "apps/email", "none", "workers"),
        ("sync", "apps/sync", "image", "workers"),
    ]
    assert proposals[0].reason == "runs apps/email (bullmq in the root package.json)"
    # email has init and a grace period already: only what it lacks
    assert proposals[0].dev_override == {"profiles": ["workers"], "restart": "unless-stopped"}
    assert proposals[1].dev_override["build"] == {
        "labels": {"dev.devstack.source-fingerprint": "${SOURCE_FINGERPRINT_SYNC:-unknown}"}
    }
    # api (a node image running `node -e`), queue and db are not workers
    assert proposals[0].entry() == {"name": "email", "profile": "workers", "dir": "apps/email", "build_mode": "none"}


def test_golden_override_files_for_the_shop():
    proposals = propose(config("shop-unadapted.v5.6.1.json"), "/project", SHOP_PACKAGES)
    assert adopt_plan.render_override(proposals) == (GOLDEN / "shop.compose.devstack.yaml").read_text()
    assert adopt_plan.render_prodlike(proposals) == (GOLDEN / "shop.compose.devstack.prodlike.yaml").read_text()


def test_two_workers_from_one_build_keep_their_own_profile():
    packages = {"apps/worker": Package("apps/worker", "@devstack/worker", frozenset({"bullmq"}))}
    proposals = propose(config("two-workers.v5.6.1.json"), "/repo", packages)
    assert [(p.service, p.profile) for p in proposals] == [("jobs", "workers"), ("mailer", "mail")]
    jobs, mailer = proposals
    assert jobs.dev_override["profiles"] == ["workers"] and "profiles" not in mailer.dev_override
    assert jobs.dev_override["restart"] == "unless-stopped"  # on-failure does not come back with Docker
    assert "init" not in jobs.dev_override and jobs.dev_override["stop_grace_period"] == "30s"


def test_ours_needs_only_the_label_and_keeps_its_healthcheck():
    packages = {"apps/worker": Package("apps/worker", "@devstack/worker", frozenset({"bullmq"}))}
    (worker,) = propose(config("ours.v5.6.1.json"), "/repo", packages)
    assert worker.service == "worker" and worker.profile == "worker"
    assert list(worker.dev_override) == ["build"]


def test_ready_file_without_healthcheck_gets_one_and_node_options_are_kept():
    raw = {
        "environment": {
            "WORKER_READY_FILE": "/dev/shm/r$x",
            "NODE_OPTIONS": "--enable-source-maps --max-old-space-size=99",
        }
    }
    override = adopt_plan.dev_override(raw, "w", "workers", "none")
    assert override["healthcheck"]["test"] == ["CMD", "test", "-f", "/dev/shm/r$$x"]
    overlay = adopt_plan.prodlike_overlay({**raw, "mem_limit": "1g"})
    assert overlay["environment"]["NODE_OPTIONS"].startswith("--enable-source-maps --max-old-space-size=${")
    assert overlay["mem_limit"] == overlay["deploy"]["resources"]["limits"]["memory"]
    assert "cpus" not in overlay


def test_named_workers_and_nothing_found():
    found = propose(config("no-healthchecks.v5.6.1.json"), "/project", {})
    assert [p.service for p in found] == ["workers"] and found[0].reason == "its name"
    named = propose(config("no-healthchecks.v5.6.1.json"), "/project", {}, ["api"])
    assert [p.service for p in named] == ["api"]
    with pytest.raises(UserError, match="no service 'nope'"):
        propose(config("no-healthchecks.v5.6.1.json"), "/project", {}, ["nope"])
    with pytest.raises(UserError, match="--worker NAME"):
        propose({"services": {"redis": {"image": "redis"}}}, "/p", {})


def test_user_compose_files_follow_composes_lookup():
    assert adopt_plan.user_compose_files([], [], {"docker-compose.yml", "compose.yaml"}) == ["compose.yaml"]
    assert adopt_plan.user_compose_files([], [], {"compose.yaml", "compose.override.yaml"}) == [
        "compose.yaml",
        "compose.override.yaml",
    ]
    assert adopt_plan.user_compose_files(["a.yml", "compose.devstack.yaml"], [], set()) == ["a.yml"]
    assert adopt_plan.user_compose_files([], ["x/c.yml"], {"compose.yaml"}) == ["x/c.yml"]
    with pytest.raises(UserError, match="--file"):
        adopt_plan.user_compose_files([], [], {"README.md"})


def test_the_env_file_compose_reads_today_is_kept_when_f_would_change_it(tmp_path):
    """COMPOSE_FILE=infra/compose.yaml in the root .env: Compose reads that .env; with -f it would read
    infra/.env (another project name, other ports), so adopt keeps the root one as compose.env_file."""
    from tasks.knowledge.compose_cli import resolve_project_files

    (tmp_path / ".env").write_text("COMPOSE_FILE=infra/compose.yaml\n")
    today = resolve_project_files(tmp_path, "", {}, {"COMPOSE_FILE": "infra/compose.yaml"})
    assert today.via == "COMPOSE_FILE" and today.env_file == tmp_path / ".env"
    assert adopt_plan.env_file_to_keep(tmp_path, ["infra/compose.yaml"], today, exists=True) == ".env"
    # nothing to keep: no .env there, files in the root, an env file already configured, Compose's lookup
    assert adopt_plan.env_file_to_keep(tmp_path, ["infra/compose.yaml"], today, exists=False) is None
    root_files = resolve_project_files(tmp_path, "", {}, {"COMPOSE_FILE": "compose.yaml"})
    assert adopt_plan.env_file_to_keep(tmp_path, ["compose.yaml"], root_files, exists=True) is None
    configured = resolve_project_files(tmp_path, "", {}, {"COMPOSE_FILE": "infra/c.yaml"}, env_file=tmp_path / "x.env")
    assert adopt_plan.env_file_to_keep(tmp_path, ["infra/c.yaml"], configured, exists=True) is None
    looked_up = resolve_project_files(tmp_path, "", {}, {})
    assert adopt_plan.env_file_to_keep(tmp_path, ["infra/compose.yaml"], looked_up, exists=True) is None


def test_merge_sets_the_env_file_to_keep_and_is_idempotent():
    wanted = adopt_config.Wanted(
        "infra/compose.yaml:compose.devstack.yaml", "compose.devstack.prodlike.yaml", [{"name": "mailer"}], ".env"
    )
    text, _ = adopt_config.merge(None, wanted)
    assert yaml.safe_load(text)["compose"] == {"files": wanted.compose_files, "env_file": ".env"}
    assert adopt_config.merge(text, wanted) == (text, [])
    mine = "compose:\n  files: infra/compose.yaml\n"
    merged, notes = adopt_config.merge(mine, wanted)
    assert yaml.safe_load(merged)["compose"]["env_file"] == ".env"
    assert any("compose.env_file set to '.env'" in note for note in notes)


WANTED = adopt_config.Wanted(
    "configs/compose.yaml:compose.devstack.yaml",
    "compose.devstack.prodlike.yaml",
    [{"name": "email", "profile": "workers", "dir": "apps/email", "build_mode": "none"}],
)


def test_merge_new_file_and_idempotent():
    text, notes = adopt_config.merge(None, WANTED)
    assert notes == ["invoke.yaml: new"]
    data = yaml.safe_load(text)
    assert data["compose"]["files"] == WANTED.compose_files and data["workers"] == WANTED.workers
    again, notes = adopt_config.merge(text, WANTED)
    assert again == text and notes == []


def test_merge_keeps_the_users_keys_and_comments():
    user = (
        "# my settings\n"
        "compose:\n"
        "  env_file: .env.local   # mine\n"
        "  files: configs/compose.yaml  # the stack\n"
        "dev:\n"
        "  url_vars: QUEUE_URL\n"
    )
    text, _ = adopt_config.merge(user, WANTED)
    assert "# my settings\n" in text and "env_file: .env.local   # mine" in text
    assert "  files: configs/compose.yaml:compose.devstack.yaml  # the stack\n" in text
    data = yaml.safe_load(text)
    assert data["dev"] == {"url_vars": "QUEUE_URL"} and data["prodlike"]["file"] == "compose.devstack.prodlike.yaml"
    assert adopt_config.merge(text, WANTED)[0] == text


def test_merge_refuses_what_it_cannot_edit():
    listed = "workers:\n  - name: other\n"
    with pytest.raises(UserError, match="lacks email: add under `workers:`"):
        adopt_config.merge(listed, WANTED)
    kept, notes = adopt_config.merge("workers:\n  - name: email\n    dir: elsewhere\n", WANTED)
    assert "dir: elsewhere" in kept and "kept as you wrote them" in notes[-1]
    with pytest.raises(UserError, match=r"worker\.service is 'jobs'"):
        adopt_config.merge("worker:\n  service: jobs\n", WANTED)
    with pytest.raises(UserError, match="not a block mapping"):
        adopt_config.merge("compose: {files: a.yml}\n", WANTED)


def test_lock_sync_npm_and_pnpm():
    lock = json.dumps(
        {"packages": {"": {"name": "r", "workspaces": ["apps/w"]}, "apps/w": {"dependencies": {"bullmq": "6.7.0"}}}}
    )
    ok = {"": json.dumps({"name": "r"}), "apps/w": json.dumps({"dependencies": {"bullmq": "6.7.0"}})}
    assert lock_sync.npm_mismatches(lock, ok) == []
    added = {**ok, "apps/w": json.dumps({"dependencies": {"bullmq": "6.7.0", "lodash": "^4"}})}
    assert lock_sync.npm_mismatches(lock, added) == ["apps/w/package.json: lodash@^4 is not in the lock file"]
    bumped = {**ok, "apps/w": json.dumps({"dependencies": {"bullmq": "^6.8.0"}})}
    assert lock_sync.npm_mismatches(lock, bumped) == ["apps/w/package.json: bullmq@^6.8.0, the lock file has 6.7.0"]
    pnpm = (Path(__file__).parents[1] / "integration/fixtures/shop/pnpm-lock.yaml").read_text()
    root = {
        "dependencies": {"bullmq": "6.7.0", "ioredis": "5.11.1", "pg": "8.23.1"},
        "devDependencies": {"esbuild": "0.28.2"},
    }
    assert lock_sync.pnpm_mismatches(pnpm, {"": json.dumps(root)}) == []
    root["dependencies"].pop("pg")
    assert lock_sync.pnpm_mismatches(pnpm, {"": json.dumps(root)}) == ["package.json: the lock file still has pg"]


@pytest.mark.skipif(shutil.which("node") is None and not os.environ.get("CI"), reason="node not installed")
def test_probe_script_reads_the_heap_limit_node_options_give():
    env = {**os.environ, "NODE_OPTIONS": "--max-old-space-size=384 --max-semi-space-size=16", "NODE_ENV": "production"}
    out = subprocess.run(["node", "-e", PROBE_SCRIPT], env=env, capture_output=True, text=True, check=True).stdout
    report = parse_probe(out)
    assert report is not None and report["heap_size_limit_mib"] == 432 and report["node_env"] == "production"
    assert report["cgroup_version"] in (1, 2) and "cluster" not in report


def test_probe_failure_names_the_missing_node():
    text = 'OCI runtime exec failed: exec failed: unable to start container process: exec: "node": executable file not found in $PATH'
    assert "has no `node` on its PATH" in probe_failure("sync", "s-sync-1", 126, text)
    assert probe_failure("sync", "c", 1, "boom\n") == "reading the limits inside the sync container (c) failed: boom"


def test_build_mode_from_invoke_yaml_decides_the_label():
    packages = {"apps/worker": Package("apps/worker", "@devstack/worker", frozenset({"bullmq"}))}
    (worker,) = propose(config("ours.v5.6.1.json"), "/repo", packages, build_modes={"worker": "host"})
    assert worker.build_mode == "host"
    assert worker.dev_override["build"] == {"labels": {"dev.devstack.dist-fingerprint": "${DIST_FINGERPRINT:-unknown}"}}


def test_prodlike_refuses_a_worker_its_overlay_does_not_cover(tmp_path):
    from types import SimpleNamespace

    from tasks.knowledge.settings import Settings
    from tasks.prodlike import require_overlay

    s = Settings.from_config({"worker": {"service": "sync"}, "prodlike": {"file": "over.yaml"}}, root=tmp_path)
    compose = SimpleNamespace(settings=s)
    with pytest.raises(UserError, match=r"over\.yaml does not exist: run `inv adopt`"):
        require_overlay(compose)  # type: ignore[arg-type]
    (tmp_path / "over.yaml").write_text("services:\n  email: {}\n")
    with pytest.raises(UserError, match="has no service 'sync': run `inv adopt`"):
        require_overlay(compose)  # type: ignore[arg-type]
    (tmp_path / "over.yaml").write_text("services:\n  sync: {}\n")
    require_overlay(compose)  # type: ignore[arg-type]


def test_one_file_given_brings_the_override_beside_it():
    assert adopt_plan.with_override("infra/compose.yaml", {"compose.yaml", "compose.override.yaml"}) == [
        "infra/compose.yaml",
        "infra/compose.override.yaml",
    ]
    assert adopt_plan.with_override("infra/compose.yaml", {"compose.yaml"}) == ["infra/compose.yaml"]


def test_servers_and_one_shot_jobs_using_the_queue_library_are_set_aside():
    packages = {"apps/api": Package("apps/api", "api", frozenset({"bullmq"}))}
    build = {"context": "/r", "dockerfile": "apps/api/Dockerfile"}
    services = {
        "api": {"build": build, "ports": [{"target": 3000, "published": "3000"}]},
        "migrate": {"build": build, "command": ["node", "dist/migrate.js"]},
        "jobs": {"build": build, "command": ["node", "dist/jobs.js"]},
        "queue-worker": {"image": "x", "ports": [{"target": 9000}]},
    }
    skipped: list[str] = []
    found = propose({"services": services}, "/r", packages, skipped=skipped)
    assert [p.service for p in found] == ["jobs", "queue-worker"]
    assert skipped == [
        "api: uses bullmq but it publishes a port (a server, e.g. an API adding jobs); `--worker api` to include it",
        "migrate: uses bullmq but it looks like a one-shot job (migrations, seeds); `--worker migrate` to include it",
    ]


def test_set_key_edits_the_sections_own_key_only():
    text = "compose:\n    nested:\n        files: keep\n    env_file: .env\n"
    out = adopt_config.set_key(text, "compose", "files", "a.yml")
    assert yaml.safe_load(out) == {"compose": {"files": "a.yml", "nested": {"files": "keep"}, "env_file": ".env"}}
    assert out.startswith("compose:\n    files: a.yml\n")


#: The new shapes' package.json (tests/integration/fixtures/<shape>/package.json): bullmq, a `dev` script.
SHAPE_PACKAGES = {".": Package(".", "shape-worker", frozenset({"bullmq", "ioredis", "pg"}))}


@pytest.mark.parametrize(
    ("data", "root"),
    [
        ("subfolder.v5.6.1.json", "/fixtures/subfolder"),
        ("by-value.v5.6.1.json", "/fixtures/by-value"),
        ("compose-yaml.v5.6.1.json", "/fixtures/compose-yaml"),
    ],
)
def test_new_shapes_worker_run_from_an_image_and_a_bind_mount(data, root):
    """An image (no build) running the sources bind-mounted from the repository (in a subfolder's
    compose file: `../../worker`): the app is the package.json above the mounted file, build_mode none,
    and the one-shot migrations (psql, no queue library) is not proposed."""
    (worker,) = propose(config(data), root, SHAPE_PACKAGES)
    assert worker.service == "worker" and worker.app_dir == "." and worker.build_mode == "none"
    assert worker.reason == "its name (runs ., bullmq in its package.json)"
    assert worker.profile == "workers"
    # init and restart are the service's own; only the profile and the grace period are added
    assert worker.dev_override == {"profiles": ["workers"], "stop_grace_period": "30s"}
    assert worker.prodlike_overlay["environment"]["NODE_ENV"] == "production"


def test_a_compose_file_in_one_folder_below_is_found_with_its_override():
    found = ["infra/docker/docker-compose.yml", "infra/docker/compose.override.yaml"]
    assert adopt_plan.compose_folder_below(found) == [
        "infra/docker/docker-compose.yml",
        "infra/docker/compose.override.yaml",
    ]
    # Compose's order decides the first file of a folder
    assert adopt_plan.compose_folder_below(["d/docker-compose.yml", "d/compose.yaml"]) == ["d/compose.yaml"]
    # an override alone is not a compose file to start from
    with pytest.raises(UserError, match=r"no compose file here \(compose\.yaml.*\): name yours with `inv adopt --file"):
        adopt_plan.compose_folder_below(["d/compose.override.yaml"])
    with pytest.raises(UserError, match=r"\(found in a, b/c\): name yours with `inv adopt --file PATH`"):
        adopt_plan.compose_folder_below(["a/compose.yaml", "b/c/docker-compose.yml"])


def test_compose_files_below_skips_dependencies_and_stops_at_its_depth(tmp_path):
    from tasks.drivers import workspace

    for rel in (
        "compose.yaml",
        "infra/docker/docker-compose.yml",
        "node_modules/x/compose.yaml",
        "a/b/c/d/compose.yaml",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("services: {}\n")
    found = workspace.compose_files_below(tmp_path, adopt_plan.COMPOSE_NAMES)
    assert found == ["infra/docker/docker-compose.yml"]


def test_a_shared_dockerfile_names_its_worker_by_a_build_arg():
    """infra/worker.Dockerfile built once per service with `args: {SERVICE: <folder>}` (seen adopting a
    repository so: adopt found no worker, and with --worker it proposed `dir .` for both)."""
    root = "/repo"

    def service(name: str) -> dict:
        return {
            "build": {"context": root, "dockerfile": f"{root}/infra/worker.Dockerfile", "args": {"SERVICE": name}},
            "restart": "on-failure",
        }

    config = {"services": {"mailer": service("mailer"), "reports": service("reports"), "kv": {"image": "redis"}}}
    packages = {
        ".": Package(".", "acme", frozenset({"typescript"})),
        "services/mailer": Package("services/mailer", "@acme/mailer", frozenset({"bullmq"})),
        "services/reports": Package("services/reports", "@acme/reports", frozenset({"bullmq"})),
    }
    found = {p.service: p.app_dir for p in propose(config, root, packages)}
    assert found == {"mailer": "services/mailer", "reports": "services/reports"}
    # an arg naming no member, or two: the Dockerfile's folder decides, as before
    config["services"]["mailer"]["build"]["args"] = {"NODE": "24"}
    with pytest.raises(UserError, match="no worker service found"):
        propose({"services": {"mailer": config["services"]["mailer"]}}, root, packages)


@pytest.mark.parametrize(
    ("restart", "note"),
    [
        (
            "always",
            "restart: always becomes unless-stopped in compose.devstack.yaml (this collection's policy): a worker",
        ),
        (
            "on-failure:3",
            "restart: on-failure:3 becomes unless-stopped in compose.devstack.yaml (this collection's policy)",
        ),
        ("no", None),
        ("unless-stopped", None),
    ],
)
def test_every_adopted_worker_gets_unless_stopped_and_a_replaced_policy_is_said(restart, note):
    raw = {"restart": restart}
    override = adopt_plan.dev_override(raw, "w", "workers", "none")
    assert override.get("restart") == (None if restart == "unless-stopped" else "unless-stopped")
    notes = adopt_plan.override_notes(raw)
    if note is None:
        assert notes == ()
    else:
        assert len(notes) == 1 and notes[0].startswith(note), notes


def test_services_the_workers_reach_without_a_published_port_are_published_by_the_override():
    from tasks.knowledge.stack_config import parse_config

    config = {
        "name": "p",
        "services": {
            "workers": {
                "environment": {
                    "DATABASE_URL": "postgres://u:p@followers-db/app",  # no port: the scheme's 5432
                    "MAIN_DATABASE_URL": "postgres://u:p@main-db:5432/app",
                    "REDIS_URL": "redis://queue",
                    "CACHE_URL": "redis://cache:6379",
                    "MAIL_TRANSPORT": "mailpit",  # a name, no address: not a connection by itself here
                }
            },
            "followers-db": {"image": "postgres"},
            "main-db": {"image": "postgres", "ports": [{"target": 5432, "published": "5432", "host_ip": "127.0.0.1"}]},
            "queue": {"image": "redis"},
            "cache": {"image": "redis", "expose": ["6379"]},
        },
    }
    stack = parse_config(config)
    publish = adopt_plan.unpublished(stack, ["workers"])
    assert publish == {
        "cache": [(6379, "CACHE_URL")],
        "followers-db": [(5432, "DATABASE_URL")],
        "queue": [(6379, "REDIS_URL")],
    }
    text = adopt_plan.render_override([], publish)
    assert "  followers-db:\n    ports:\n    - 127.0.0.1::5432\n" in text
    assert "main-db" not in text  # it publishes its port already


PROD = DATA / "prod"


def test_caps_from_goes_into_a_new_entry_a_single_worker_form_and_a_note_for_a_kept_list():
    from dataclasses import replace

    entry = {"name": "email", "profile": "workers", "dir": "apps/email", "build_mode": "image"}
    wanted = replace(WANTED, workers=[{**entry, "caps_from": "k8s/email.yaml#email"}])
    text, _ = adopt_config.merge(None, wanted)
    assert yaml.safe_load(text)["workers"][0]["caps_from"] == "k8s/email.yaml#email"
    one = wanted.workers[:1]
    single, notes = adopt_config.merge("worker:\n  service: email\n", replace(wanted, workers=one))
    assert yaml.safe_load(single)["prodlike"]["caps_from"] == "k8s/email.yaml#email"
    assert "prodlike.caps_from set to 'k8s/email.yaml#email'" in notes[-1]
    assert adopt_config.merge(single, replace(wanted, workers=one))[0] == single  # idempotent
    kept, notes = adopt_config.merge("workers:\n  - name: email\n", wanted)
    assert "caps_from" not in kept
    assert "add `caps_from: k8s/email.yaml#email` to the email entry" in notes[-1]
    mine = "workers:\n  - name: email\n    caps_from: elsewhere.json\n"
    assert not [n for n in adopt_config.merge(mine, wanted)[1] if "caps_from" in n]


def test_production_definitions_are_found_below_the_root_and_overlays_left_out(tmp_path):
    from tasks.drivers import prod_source
    from tasks.knowledge.prod_source import pick

    (tmp_path / "deploy" / "k8s").mkdir(parents=True)
    (tmp_path / ".aws").mkdir()
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    shutil.copy(PROD / "helm-rendered.yaml", tmp_path / "deploy" / "k8s" / "worker.yaml")
    shutil.copy(PROD / "task-definition.json", tmp_path / ".aws" / "task-definition.json")
    shutil.copy(PROD / "helm-rendered.yaml", tmp_path / "node_modules" / "x" / "chart.yaml")
    shutil.copy(PROD / "docker-compose.prod.yml", tmp_path / "docker-compose.yml")  # the dev stack: skipped
    overlay = "services:\n  worker:\n    deploy: {resources: {limits: {memory: '${PRODLIKE_MEMORY:-13g}'}}}\n"
    (tmp_path / "compose.devstack.prodlike.yaml").write_text(overlay)
    (tmp_path / "broken.yaml").write_text("resources: [\n")
    found = prod_source.find(tmp_path, {"docker-compose.yml"})
    assert [path for path, _ in found] == [".aws/task-definition.json", "deploy/k8s/worker.yaml"]
    # neither path names production or staging: path order
    assert pick(found, "worker") == (".aws/task-definition.json#worker", ["deploy/k8s/worker.yaml#worker"])


def test_a_service_depending_on_a_worker_the_override_profiles_is_said():
    """A real repository's nginx depends on its four workers: with the override, Compose refuses
    `docker compose up` without `--profile workers` (`depends on undefined service`); adopt says so."""
    from tasks.knowledge.adopt_plan import Proposal, profiled_dependencies

    config = {
        "services": {
            "nginx": {"image": "nginx", "depends_on": {"svc-a": {"condition": "service_healthy"}, "db": {}}},
            "svc-a": {"build": {"context": "."}},
            "svc-b": {"build": {"context": "."}, "profiles": ["jobs"]},  # a profile of its own: kept
            "api": {"image": "x", "depends_on": ["svc-b"]},
            "db": {"image": "postgres"},
        }
    }
    proposals = [
        Proposal("svc-a", "its name", "workers", ".", "image"),
        Proposal("svc-b", "its name", "jobs", ".", "image"),
    ]
    assert profiled_dependencies(config, proposals) == [
        "nginx depends on svc-a, which compose.devstack.yaml puts behind the workers profile: with that file "
        "Compose refuses a command without `--profile workers` (the tasks give it; a `docker compose` of your "
        "own with that file needs it too)"
    ]
