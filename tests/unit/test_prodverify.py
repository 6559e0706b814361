"""Planned versus actual table of prodlike.verify."""

from tasks.knowledge import prod_verify
from tasks.knowledge.heap_plan import MIB, parse_size, plan_heap

PLAN = plan_heap(parse_size("512m"), cpus=1)
GOOD_PROBE = {
    "heap_size_limit_mib": 432,
    "cgroup_version": 1,
    "memory_limit_bytes": 512 * MIB,
    "cpu_quota_us": 100000,
    "cpu_period_us": 100000,
    "node_env": "production",
}


def test_matching_container_passes_every_row():
    rows = prod_verify.rows(PLAN, 1_000_000_000, 512 * MIB, GOOD_PROBE)
    assert all(r.ok for r in rows), prod_verify.render(rows)


def test_each_mismatch_fails_its_row():
    rows = prod_verify.rows(
        PLAN,
        2_000_000_000,
        0,
        {**GOOD_PROBE, "heap_size_limit_mib": 2096, "cpu_quota_us": None, "node_env": "development"},
    )
    failed = {r.item for r in rows if not r.ok}
    assert {
        "engine CPUs (NanoCpus)",
        "engine memory",
        "cgroup v1 CPUs",
        "V8 heap_size_limit (node exec)",
        "heap share of memory",
        "NODE_ENV",
    } <= failed


def test_render_has_a_line_per_row():
    rows = prod_verify.rows(PLAN, 1_000_000_000, 512 * MIB, GOOD_PROBE)
    assert len(prod_verify.render(rows).splitlines()) == len(rows) + 1


def test_explicit_heap_above_ratio_passes_when_it_matches_but_default_plan_would_fail():
    explicit = plan_heap(parse_size("512m"), cpus=1, heap_mb=440)
    probe = {**GOOD_PROBE, "heap_size_limit_mib": 488}
    assert all(r.ok for r in prod_verify.rows(explicit, 1_000_000_000, 512 * MIB, probe))
    share = {r.item: r for r in prod_verify.rows(PLAN, 1_000_000_000, 512 * MIB, probe)}["heap share of memory"]
    assert not share.ok
