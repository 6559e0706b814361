"""worker.up skips Compose's no-op `up -d` only when Compose's config hash, the image and the
dependencies all match (tasks/knowledge/up_noop.py, worker_service.start_worker), with a fake gateway."""

from __future__ import annotations

import pytest

from tasks import worker
from tasks.knowledge.compose_cli import ContainerState
from tasks.knowledge.prodlike_labels import MODE as MODE_LABEL
from tasks.knowledge.up_noop import (
    CONFIG_HASH_LABEL,
    IMAGE_LABEL,
    dependency_conditions,
    parse_hashes,
    why_not_noop,
)
from tests import fakes

HASHES = {"worker": "hw", "postgres": "hp", "redis": "hr"}
IMAGES = {"worker": "sha256:w", "postgres": "sha256:p", "redis": "sha256:r"}
HEALTHY_DEPS = {"postgres": "service_healthy", "redis": "service_healthy"}


def container(service: str, *, state: str = "running", health: str = "healthy", **labels: str) -> ContainerState:
    return ContainerState(
        name=f"devstack-{service}-1",
        service=service,
        state=state,
        health=health,
        status="Up",
        exit_code=0,
        labels={CONFIG_HASH_LABEL: HASHES[service], IMAGE_LABEL: IMAGES[service], **labels},
    )


def stack(**changed: ContainerState) -> list[ContainerState]:
    return [changed.get(name) or container(name) for name in ("worker", "postgres", "redis")]


def test_noop_when_hash_image_and_dependencies_all_match():
    assert (
        why_not_noop("worker", containers=stack(), hashes=HASHES, image_ids=IMAGES, dependencies=HEALTHY_DEPS) is None
    )


@pytest.mark.parametrize(
    ("containers", "hashes", "images", "reason"),
    [
        (stack(worker=container("worker", **{CONFIG_HASH_LABEL: "old"})), HASHES, IMAGES, "worker's configuration"),
        (stack(redis=container("redis", **{CONFIG_HASH_LABEL: "old"})), HASHES, IMAGES, "redis's configuration"),
        (stack(), {**HASHES, "worker": ""}, IMAGES, "worker's configuration"),
        (stack(), {}, IMAGES, "configuration changed"),
        (stack(worker=container("worker", **{IMAGE_LABEL: "sha256:old"})), HASHES, IMAGES, "worker's image"),
        (stack(postgres=container("postgres", **{IMAGE_LABEL: "sha256:old"})), HASHES, IMAGES, "postgres's image"),
        (stack(), HASHES, {}, "image changed"),
        (stack(worker=container("worker", state="exited")), HASHES, IMAGES, "worker is exited"),
        (stack(worker=container("worker", health="starting")), HASHES, IMAGES, "worker is not healthy"),
        (stack(postgres=container("postgres", health="unhealthy")), HASHES, IMAGES, "postgres is not healthy"),
        (stack(redis=container("redis", state="exited")), HASHES, IMAGES, "redis is exited"),
        ([container("worker"), container("postgres")], HASHES, IMAGES, "redis has 0 containers"),
        ([*stack(), container("worker")], HASHES, IMAGES, "worker has 2 containers"),
    ],
)
def test_anything_different_or_unknown_runs_up(containers, hashes, images, reason):
    found = why_not_noop("worker", containers=containers, hashes=hashes, image_ids=images, dependencies=HEALTHY_DEPS)
    assert found is not None and reason in found


def test_never_with_build_or_a_prodlike_worker():
    built = why_not_noop(
        "worker", containers=stack(), hashes=HASHES, image_ids=IMAGES, dependencies=HEALTHY_DEPS, build=True
    )
    assert built == "--build asked"
    prodlike = stack(worker=container("worker", **{MODE_LABEL: "prodlike"}))
    found = why_not_noop("worker", containers=prodlike, hashes=HASHES, image_ids=IMAGES, dependencies=HEALTHY_DEPS)
    assert found == "worker runs prod-like"


@pytest.mark.parametrize("policy", ["always", "build", "daily"])
def test_never_when_up_would_pull_or_build_again(policy):
    found = why_not_noop(
        "worker",
        containers=stack(),
        hashes=HASHES,
        image_ids=IMAGES,
        dependencies=HEALTHY_DEPS,
        pull_policies={"redis": policy},
    )
    assert found == f"redis has pull_policy {policy}"
    quiet = {"worker": "missing", "redis": "never"}
    found = why_not_noop(
        "worker", containers=stack(), hashes=HASHES, image_ids=IMAGES, dependencies=HEALTHY_DEPS, pull_policies=quiet
    )
    assert found is None


def test_a_running_dependency_suffices_when_only_started_is_asked():
    deps = {"postgres": "service_started", "redis": "service_healthy"}
    containers = stack(postgres=container("postgres", health="starting"))
    assert why_not_noop("worker", containers=containers, hashes=HASHES, image_ids=IMAGES, dependencies=deps) is None
    once = {"postgres": "service_completed_successfully", "redis": "service_healthy"}
    found = why_not_noop("worker", containers=stack(), hashes=HASHES, image_ids=IMAGES, dependencies=once)
    assert found is not None and "condition service_completed_successfully" in found


def test_dependencies_are_followed_transitively_with_the_strictest_condition():
    services = {
        "worker": {"depends_on": {"api": {"condition": "service_started"}, "db": {"condition": "service_healthy"}}},
        "api": {"depends_on": ["db", "cache"]},
        "db": {},
        "cache": {},
    }
    assert dependency_conditions(services, "worker") == {
        "api": "service_started",
        "db": "service_healthy",
        "cache": "service_started",
    }
    assert dependency_conditions({"worker": {"depends_on": ["gone"]}}, "worker") is None


def test_parse_hashes():
    assert parse_hashes("postgres 1a\nworker 2b\n\n") == {"postgres": "1a", "worker": "2b"}


# -- the task, with a fake Compose ------------------------------------------------------------
IMAGE_IDS = r"^docker image inspect --format \{\{\.Id\}\} devstack-worker:local postgres:16-alpine redis:7-alpine$"


def matching_stack(gw: fakes.FakeGateway) -> fakes.FakeStack:
    """The fake project's containers carry the hashes and image ids Compose and Docker answer."""
    stack = fakes.FakeStack(gw)
    for name, ct in stack.containers.items():
        ct.labels = {CONFIG_HASH_LABEL: HASHES[name], IMAGE_LABEL: IMAGES[name]}
    gw.on(r"^docker compose .*--profile worker config --hash worker,", stdout="postgres hp\nredis hr\nworker hw\n")
    gw.on(IMAGE_IDS, stdout="sha256:w\nsha256:p\nsha256:r\n")
    return stack


def test_up_skips_compose_when_nothing_would_change(tmp_path, gw, capsys):
    matching_stack(gw)
    worker.up(fakes.context(tmp_path))
    assert not gw.ran(r" up -d")
    assert "worker: already running with this configuration" in capsys.readouterr().out
    # the project's containers were listed once for every check (prod-like note, ports, the no-op test)
    assert len(gw.commands(r"^docker ps -a ")) == 1


def test_the_config_hash_is_asked_of_compose_once_then_cached(tmp_path, gw):
    matching_stack(gw)
    worker.up(fakes.context(tmp_path))
    worker.up(fakes.context(tmp_path))
    assert len(gw.commands(r" config --hash ")) == 1


def test_up_runs_compose_when_the_config_hash_differs(tmp_path, gw, capsys):
    stack = matching_stack(gw)
    assert stack.worker is not None
    stack.worker.labels[CONFIG_HASH_LABEL] = "an older configuration"
    worker.up(fakes.context(tmp_path))
    assert gw.ran(r"--profile worker up -d worker$")
    assert "already running" not in capsys.readouterr().out


def test_up_runs_compose_when_the_image_tag_moved(tmp_path, gw):
    matching_stack(gw)
    gw.on(IMAGE_IDS, stdout="sha256:rebuilt\nsha256:p\nsha256:r\n")
    worker.up(fakes.context(tmp_path))
    assert gw.ran(r"--profile worker up -d worker$")


def test_up_runs_compose_when_a_dependency_is_down(tmp_path, gw):
    stack = matching_stack(gw)
    stack.containers["redis"].state = "exited"
    worker.up(fakes.context(tmp_path))
    assert gw.ran(r"--profile worker up -d worker$")


def test_build_never_skips(tmp_path, gw):
    """A running worker's image is built first (it serves meanwhile), then `up -d`; a stopped one's by `up`."""
    stack = matching_stack(gw)
    worker.up(fakes.context(tmp_path), build=True)
    assert gw.in_order(r"--profile worker build worker$", r"--profile worker up -d worker$")
    assert stack.worker is not None
    stack.worker.state = "exited"
    gw.calls.clear()
    worker.up(fakes.context(tmp_path), build=True)
    assert gw.ran(r"--profile worker up -d --build worker$") and not gw.ran(r" build worker$")


def test_a_prodlike_worker_is_recreated_not_skipped(tmp_path, gw, capsys):
    stack = matching_stack(gw)
    assert stack.worker is not None
    stack.worker.labels[MODE_LABEL] = "prodlike"
    worker.up(fakes.context(tmp_path))
    assert gw.ran(r"--profile worker up -d worker$")
    assert "recreates it as the normal worker" in capsys.readouterr().out


def test_status_inspects_the_container_by_its_expected_name_while_listing_and_again_when_it_differs(
    tmp_path, gw, monkeypatch
):
    stack = fakes.FakeStack(gw)
    worker.status(fakes.context(tmp_path))
    assert gw.commands(r"^docker inspect --type container ") == [
        gw.commands(r"^docker inspect --type container .* devstack-worker-1$")[0]
    ]
    gw.calls.clear()
    monkeypatch.setattr(stack, "name", lambda service: f"custom-{service}")  # a `container_name:`
    worker.status(fakes.context(tmp_path))
    assert gw.ran(r"^docker inspect --type container .* devstack-worker-1$")
    assert gw.ran(r"^docker inspect --type container .* custom-worker$")
