"""A running worker that `up -d` would re-create is stopped consumer-first before it
(tasks/knowledge/recreate.py, tasks/drivers/recreate.py): the decision, and each task that runs `up`
(worker.up, prodlike.down, stack.up) with a fake Compose."""

from __future__ import annotations

import pytest

from tasks import prodlike, stack, worker
from tasks.knowledge.compose_cli import ContainerState
from tasks.knowledge.prodlike_labels import MODE as MODE_LABEL
from tasks.knowledge.recreate import MISSING_IMAGE, line, why_recreated
from tasks.knowledge.up_noop import CONFIG_HASH_LABEL, IMAGE_LABEL
from tests import fakes

from .test_up_noop import HASHES, IMAGES, matching_stack


def worker_container(state: str = "running", **labels: str) -> ContainerState:
    labels = {CONFIG_HASH_LABEL: "hw", IMAGE_LABEL: "sha256:w", **labels}
    return ContainerState("devstack-worker-1", "worker", state, "healthy", "Up", 0, labels)


def decide(containers: list[ContainerState], config_hash: str = "hw", image: str = "sha256:w", **kw: bool):
    return why_recreated("worker", containers, config_hash=config_hash, image_id=image, **kw)


def test_nothing_changed_or_nothing_running_is_no_recreation():
    assert decide([worker_container()]) is None
    assert decide([worker_container(state="exited", **{CONFIG_HASH_LABEL: "old"})]) is None
    assert decide([]) is None


@pytest.mark.parametrize(
    ("container", "config_hash", "image", "prodlike", "reason"),
    [
        (worker_container(**{CONFIG_HASH_LABEL: "old"}), "hw", "sha256:w", None, "its configuration changed"),
        (worker_container(), "hw", "sha256:new", None, "its image changed"),
        (worker_container(), "hw", MISSING_IMAGE, None, "its image is to be built or pulled"),
        (worker_container(**{CONFIG_HASH_LABEL: "old"}), "hw", "", None, "its configuration changed"),
        (worker_container(**{CONFIG_HASH_LABEL: "old"}), "hp", "sha256:w", True, "it becomes the prod-like worker"),
        (
            worker_container(**{CONFIG_HASH_LABEL: "hp", MODE_LABEL: "prodlike"}),
            "hw",
            "sha256:w",
            False,
            "it goes back to the normal worker",
        ),
        (
            worker_container(**{CONFIG_HASH_LABEL: "hp", MODE_LABEL: "prodlike"}),
            "hp2",
            "sha256:w",
            True,
            "its configuration changed",
        ),
    ],
)
def test_a_changed_configuration_or_image_is_a_recreation(container, config_hash, image, prodlike, reason):
    assert decide([container], config_hash, image, prodlike=prodlike) == reason


def test_what_cannot_be_told_is_left_to_compose():
    """No hash from Compose, no image id from Docker: not taken as a re-creation (today's behaviour)."""
    assert decide([worker_container(**{CONFIG_HASH_LABEL: "old"})], config_hash="") is None
    assert decide([worker_container()], image="") is None


def test_one_of_several_containers_differing_is_enough():
    second = ContainerState("devstack-worker-2", "worker", "running", "", "Up", 0, {CONFIG_HASH_LABEL: "old"})
    assert decide([worker_container(), second]) == "its configuration changed"


def test_the_line():
    assert line("worker", "its configuration changed") == (
        "worker: its configuration changed: stopping it (its consumers first) before Compose re-creates it"
    )


# -- the tasks, with a fake Compose --------------------------------------------------------------
STOP = r"^docker compose .* stop worker$"
SAID = "worker: its configuration changed: stopping it (its consumers first) before Compose re-creates it"


def test_worker_up_stops_a_worker_whose_configuration_changed_before_compose_recreates_it(tmp_path, gw, capsys):
    fake = matching_stack(gw)
    assert fake.worker is not None
    fake.worker.labels[CONFIG_HASH_LABEL] = "an older configuration"
    worker.up(fakes.context(tmp_path))
    out = capsys.readouterr().out
    assert SAID in out
    assert gw.in_order(r"^docker exec devstack-worker-1 node -e ", STOP, r"--profile worker up -d worker$")
    assert len(gw.commands(r" config --hash ")) == 1  # the no-op check's answer is reused
    assert out.index(SAID) < out.index("stopping the worker service")


def test_worker_up_leaves_an_unchanged_worker_to_compose_when_only_a_dependency_needs_up(tmp_path, gw, capsys):
    fake = matching_stack(gw)
    fake.containers["redis"].state = "exited"  # not a no-op (`up` starts redis), but the worker stays
    worker.up(fakes.context(tmp_path))
    assert not gw.ran(STOP) and gw.ran(r"--profile worker up -d worker$")
    assert "re-creates it" not in capsys.readouterr().out


def test_worker_up_leaves_a_stopped_worker_as_before(tmp_path, gw, capsys):
    fake = matching_stack(gw)
    assert fake.worker is not None
    fake.worker.state = "exited"
    fake.worker.labels[CONFIG_HASH_LABEL] = "an older configuration"
    worker.up(fakes.context(tmp_path))
    assert not gw.ran(STOP) and not gw.ran(r"^docker exec ")
    assert "re-creates it" not in capsys.readouterr().out


def test_worker_up_stops_a_worker_whose_image_a_build_changed_after_the_build(tmp_path, gw, capsys):
    matching_stack(gw)
    built = {"done": False}

    def build(argv: list[str]) -> fakes.Outcome:
        built["done"] = True
        return 0, "", ""

    def image_id(argv: list[str]) -> fakes.Outcome:
        return 0, "sha256:rebuilt\n" if built["done"] else "sha256:w\n", ""

    gw.on(r"--profile worker build worker$", effect=build)
    gw.on(r" config --hash worker$", stdout="worker hw\n")
    gw.on(r"^docker image inspect --format \{\{\.Id\}\} devstack-worker:local$", effect=image_id)
    worker.up(fakes.context(tmp_path), build=True)
    assert "worker: its image changed: stopping it (its consumers first)" in capsys.readouterr().out
    assert gw.in_order(r" build worker$", STOP, r"--profile worker up -d worker$")


def test_prodlike_down_stops_the_prodlike_worker_before_compose_recreates_it(tmp_path, gw, capsys):
    fake = matching_stack(gw)
    assert fake.worker is not None
    fake.worker.labels.update({CONFIG_HASH_LABEL: "a prod-like hash", MODE_LABEL: "prodlike"})
    gw.on(r"^docker image inspect --format \{\{\.Id\}\} devstack-worker:local$", stdout="sha256:w\n")
    gw.on(r" config --hash worker$", stdout="worker hw\n")
    prodlike.down(fakes.context(tmp_path))
    out = capsys.readouterr().out
    assert "worker: it goes back to the normal worker: stopping it (its consumers first)" in out
    assert gw.in_order(STOP, r" up -d worker$")


def test_stack_up_stops_a_changed_worker_before_up_wait(tmp_path, gw, capsys):
    fake = matching_stack(gw)
    assert fake.worker is not None
    fake.worker.labels[CONFIG_HASH_LABEL] = "an older configuration"
    gw.on(r"^docker image inspect --format \{\{\.Id\}\} devstack-worker:local$", stdout=f"{IMAGES['worker']}\n")
    gw.on(r" config --hash worker$", stdout=f"worker {HASHES['worker']}\n")
    stack.up(fakes.context(tmp_path))
    assert SAID in capsys.readouterr().out
    assert gw.in_order(STOP, r" up -d --wait$")
