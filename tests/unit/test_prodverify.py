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


def node(pid, ppid, heap, cmd=("node", "dist/main.js"), rss=60.0):
    return {"pid": pid, "ppid": ppid, "cmdline": list(cmd), "heap_size_limit_mib": heap, "rss_mib": rss}


def test_the_processes_that_really_run_an_app_forking_by_itself_fails_the_plan_for_one():
    """The issue's app: a primary forking 2 x CLUSTER_SIZE workers, each with the 512m plan's 432 MiB."""
    probe = {
        **GOOD_PROBE,
        "processes": [
            node(1, 0, 432, ("node", "dist/cluster.js")),
            node(20, 1, 432),
            node(21, 1, 432),
            node(22, 1, 432),
            node(23, 1, 432),
        ],
    }
    rows = {r.item: r for r in prod_verify.rows(PLAN, 1_000_000_000, 512 * MIB, probe)}
    count = rows["node processes in the container"]
    assert (count.planned, count.ok) == ("1 worker(s)", False)
    assert count.actual == "5: 4 worker(s); pid 1 (`node dist/cluster.js`) forks 4"
    share = rows["heap limits of the workers, share of memory"]
    assert (share.actual, share.ok) == ("1.69 GiB in 4, 337.5%", False)
    every = rows["heap limits of every node process (forking ones too)"]
    assert every.ok and every.warn and every.status == "warn"
    assert rows["pid 1 (`node dist/cluster.js`) (forks) heap_size_limit"].ok
    assert "heap share of memory" not in rows  # the status-file/node-exec estimate is replaced


def test_a_planned_primary_with_its_forks_passes_and_warns_on_the_primary_s_limit():
    """Our example app: a primary and the planned workers; the workers' sum holds, the primary's limit is a WARN."""
    plan = plan_heap(parse_size("1g"), cpus=1, processes=2)
    heap = plan.heap_limit_mib
    cluster = {"workers": [{"index": 1, "pid": 8, "heap_size_limit_mib": heap}, {"index": 2, "pid": 9}]}
    probe = {
        **GOOD_PROBE,
        "heap_size_limit_mib": heap,
        "memory_limit_bytes": 1024 * MIB,
        "cluster": cluster,
        "processes": [node(7, 1, heap, ("node", "dist/cluster.js")), node(8, 7, heap), node(9, 7, None)],
    }
    rows = prod_verify.rows(plan, 1_000_000_000, 1024 * MIB, probe)
    by = {r.item: r for r in rows}
    assert by["node processes in the container"].ok
    # pid 9 reported nothing and its limit could not be read: unknown, and so is the workers' sum; its row
    # is the app's own (one row per process: /proc's rows are for the processes the app does not report)
    assert by["process 2 (pid 9) heap_size_limit"].actual == "not reported"
    assert "pid 9 (`node dist/main.js`) heap_size_limit" not in by
    assert by["pid 7 (`node dist/cluster.js`) (forks) heap_size_limit"].ok
    assert by["heap limits of the workers, share of memory"].actual == "unknown"
    cluster["workers"][1]["heap_size_limit_mib"] = heap  # the app's own report fills it in
    by = {r.item: r for r in prod_verify.rows(plan, 1_000_000_000, 1024 * MIB, probe)}
    assert by["heap limits of the workers, share of memory"].ok
    assert by["heap limits of every node process (forking ones too)"].warn
    text = prod_verify.render(list(by.values()))
    assert "\nWARN heap limits of every node process" in text


def test_stats_lines_sum_the_heap_limits_against_the_cap():
    procs = prod_verify.node_procs(
        {"processes": [node(1, 0, 432, ("node", "dist/cluster.js"), 40), node(20, 1, 432), node(21, 1, 432)]}
    )
    assert procs is not None and [p.forks for p in procs] == [2, 0, 0]
    lines = prod_verify.stats_lines(procs, 512 * MIB, 0.85)
    assert lines[0] == "node processes: 3 (2 worker(s), 1 forking)"
    assert lines[1] == "  pid 1 (`node dist/cluster.js`) forks 2: heap_size_limit 432 MiB, rss 40 MiB"
    assert lines[4] == (
        "heap limits: workers 864 MiB = 168.8% of the 512 MiB cap, every node process 1.27 GiB = 253.1% "
        "(the heaps may take 85%)"
    )
    assert lines[5].startswith("warning: the workers' heap limits add up to more than 85% of 512 MiB")
    one = prod_verify.node_procs({"processes": [node(1, 0, 432)]})
    assert one is not None and prod_verify.stats_lines(one, 512 * MIB, 0.85)[-1] == (
        "heap limits: workers 432 MiB = 84.4% of the 512 MiB cap (the heaps may take 85%)"
    )
    assert prod_verify.node_procs({}) is None
    assert prod_verify.stats_lines([], 512 * MIB, 0.85) == ["node processes: none found in the container"]


def test_the_probe_lists_node_processes_with_the_heap_limit_their_flags_give(tmp_path):
    """Run on the host: a node started with --max-old-space-size=96 (and NODE_OPTIONS' semi-space) is
    found with 96 + 3 x 2 MiB; a --require in NODE_OPTIONS is not run by the probe."""
    import os
    import subprocess
    import time

    marker = tmp_path / "required.txt"
    hook = tmp_path / "hook.js"
    hook.write_text(f"require('fs').appendFileSync({str(marker)!r}, 'x')\n")
    env = {**os.environ, "NODE_OPTIONS": f"--max-semi-space-size=2 --require {hook}"}
    child = subprocess.Popen(["node", "--max-old-space-size=96", "-e", "setTimeout(() => {}, 20000)"], env=env)
    try:
        time.sleep(0.5)
        before = marker.read_text()
        out = subprocess.run(
            ["node", "-e", prod_verify.PROBE_SCRIPT], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        report = prod_verify.parse_probe(out)
        assert report is not None
        mine = [p for p in report["processes"] if p["pid"] == child.pid]
        assert mine and mine[0]["heap_flags"] == ["--max-semi-space-size=2", "--max-old-space-size=96"]
        assert mine[0]["heap_size_limit_mib"] == 102
        assert marker.read_text() == before  # the app's --require ran once, in the app, not in the probe
    finally:
        child.kill()
        child.wait()
