"""The plan recorded on the container as labels, read back, and the mode line of worker.status."""

import pytest

from tasks.knowledge import prod_verify
from tasks.knowledge.compose_cli import parse_labels
from tasks.knowledge.heap_plan import MIB, PlanError, parse_size, plan_heap
from tasks.knowledge.prodlike_labels import compose_env, labels, mode_text, plan_from_labels
from tasks.knowledge.status_view import render


@pytest.mark.parametrize(
    "plan",
    [
        plan_heap(parse_size("512m"), cpus=1),
        plan_heap(parse_size("13g"), cpus=3),
        plan_heap(parse_size("8g"), cpus=2, processes=4),
        plan_heap(parse_size("512m"), cpus=1.5, heap_mb=440),
        plan_heap(parse_size("1g"), cpus=1, ratio=0.7),
    ],
)
def test_labels_give_back_the_exact_plan(plan):
    assert plan_from_labels(labels(plan)) == plan
    # As `compose ps` prints them (one comma-joined string) too.
    joined = ",".join(f"{k}={v}" for k, v in labels(plan).items())
    assert plan_from_labels(parse_labels(joined)) == plan


# The README's heap table, written out by hand (memory, processes -> old space, semi space, heap_size_limit,
# share): the expected values do not come from the code under test.
README_TABLE = [
    ("13g", 3, 1, "11123", "64", 11315, "85.0 %"),
    ("512m", 1, 1, "384", "16", 432, "84.4 %"),
    ("8g", 2, 4, "1692", "16", 1740, "85.0 %"),
]


@pytest.mark.parametrize("memory, cpus, processes, old, semi, heap_mib, share", README_TABLE)
def test_labels_and_mode_match_the_readme_table(memory, cpus, processes, old, semi, heap_mib, share):
    plan = plan_heap(parse_size(memory), cpus=cpus, processes=processes)
    assert plan.node_options == f"--max-old-space-size={old} --max-semi-space-size={semi}"
    assert plan.heap_limit_mib == heap_mib
    assert f"{plan.heap_share * 100:.1f} %" == share
    memory_bytes = {"13g": "13958643712", "512m": "536870912", "8g": "8589934592"}[memory]
    assert labels(plan) == {
        "dev.devstack.mode": "prodlike",
        "dev.devstack.prodlike.cpus": str(cpus),
        "dev.devstack.prodlike.memory": memory_bytes,
        "dev.devstack.prodlike.old-space-mib": old,
        "dev.devstack.prodlike.semi-space-mib": semi,
        "dev.devstack.prodlike.processes": str(processes),
        "dev.devstack.prodlike.ratio": "0.85",
        "dev.devstack.prodlike.explicit": "false",
    }
    heap = f"{heap_mib} MiB" if processes == 1 else f"{processes} x {heap_mib} MiB"
    cpus_text = "1 CPU" if cpus == 1 else f"{cpus} CPUs"
    memory_text = {"13g": "13.00 GiB", "512m": "512 MiB", "8g": "8.00 GiB"}[memory]
    assert mode_text(labels(plan)) == f"prodlike ({cpus_text}, {memory_text}, heap {heap})"


def test_compose_env_carries_every_value_the_override_needs():
    env = compose_env(plan_heap(parse_size("512m"), cpus=1, processes=1))
    assert env == {
        "PRODLIKE_CPUS": "1",
        "PRODLIKE_MEMORY": str(512 * MIB),
        "PRODLIKE_OLD_SPACE_MIB": "384",
        "PRODLIKE_SEMI_SPACE_MIB": "16",
        "PRODLIKE_PROCESSES": "1",
        "PRODLIKE_HEAP_RATIO": "0.85",
        "PRODLIKE_EXPLICIT": "false",
    }


def test_a_normal_worker_has_no_plan_and_says_normal():
    normal = {"dev.devstack.restart-policy": "unless-stopped", "dev.devstack.scheduler": "true"}
    assert plan_from_labels(normal) is None
    assert mode_text(normal) == "normal"


def test_broken_labels_are_one_line_errors():
    broken = {**labels(plan_heap(parse_size("512m"), cpus=1)), "dev.devstack.prodlike.old-space-mib": "x"}
    with pytest.raises(PlanError) as info:
        plan_from_labels(broken)
    assert "old-space-mib" in str(info.value) and "\n" not in str(info.value)
    assert mode_text(broken).startswith("prodlike (unreadable plan")


def test_mode_text():
    assert mode_text(labels(plan_heap(parse_size("512m"), cpus=2))) == "prodlike (2 CPUs, 512 MiB, heap 432 MiB)"
    one = mode_text(labels(plan_heap(parse_size("512m"), cpus=1)))
    assert one == "prodlike (1 CPU, 512 MiB, heap 432 MiB)"
    four = plan_heap(parse_size("8g"), cpus=2, processes=4)
    assert mode_text(labels(four)) == "prodlike (2 CPUs, 8.00 GiB, heap 4 x 1740 MiB)"  # the README's 8g x 4 row


def test_status_shows_the_mode():
    from tasks.knowledge.compose_cli import ContainerState

    plan = plan_heap(parse_size("512m"), cpus=2)
    container = ContainerState("w-1", "worker", "running", "", "Up 3 seconds", None, labels(plan))
    assert "  mode:           prodlike (2 CPUs, 512 MiB, heap 432 MiB)" in render("worker", [container]).splitlines()


# 768m x 2 processes: old space min(0.85 * 768 / 2 - 3 * 16, (768 - 28) / 2 - 100) = 270 (the native reserve
# binds), heap_size_limit 270 + 3 * 16 = 318 MiB.
PLAN2 = plan_heap(parse_size("768m"), cpus=2, processes=2)
WORKERS2 = [
    {"index": 1, "pid": 13, "scheduler": True, "heap_size_limit_mib": 318},
    {"index": 2, "pid": 14, "scheduler": False, "heap_size_limit_mib": 318},
]
PROBE2 = {
    "heap_size_limit_mib": 318,
    "cgroup_version": 1,
    "memory_limit_bytes": 768 * MIB,
    "cpu_quota_us": 200000,
    "cpu_period_us": 100000,
    "node_env": "production",
    "cluster": {
        "workers": [
            {"index": 1, "pid": 13, "scheduler": True, "heap_size_limit_mib": 318},
            {"index": 2, "pid": 14, "scheduler": False, "heap_size_limit_mib": 318},
        ]
    },
}


def test_every_process_is_checked_and_one_scheduler():
    rows = prod_verify.rows(PLAN2, 2_000_000_000, 768 * MIB, PROBE2)
    assert all(r.ok for r in rows), prod_verify.render(rows)
    assert [r.item for r in rows if r.item.startswith("process ")] == [
        "process 1 (pid 13) heap_size_limit",
        "process 2 (pid 14) heap_size_limit",
    ]


def test_missing_process_wrong_heap_and_two_schedulers_fail_their_rows():
    workers = [{"index": 1, "pid": 13, "scheduler": True, "heap_size_limit_mib": 2096}]
    rows = prod_verify.rows(PLAN2, 2_000_000_000, 768 * MIB, {**PROBE2, "cluster": {"workers": workers}})
    failed = {r.item for r in rows if not r.ok}
    assert failed == {"node worker processes", "process 1 (pid 13) heap_size_limit", "heap share of memory"}
    both = [dict(w, scheduler=True) for w in WORKERS2]
    rows = prod_verify.rows(PLAN2, 2_000_000_000, 768 * MIB, {**PROBE2, "cluster": {"workers": both}})
    assert {r.item for r in rows if not r.ok} == {"processes running the scheduler"}


def test_a_normal_worker_fails_the_mode_row_and_no_cluster():
    rows = prod_verify.rows(PLAN2, 2_000_000_000, 768 * MIB, {**PROBE2, "cluster": None}, mode="normal")
    by_item = {r.item: r for r in rows}
    assert not by_item["worker mode (labels)"].ok
    assert by_item["node worker processes"].actual.startswith("no cluster primary")
