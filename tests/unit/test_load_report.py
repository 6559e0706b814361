"""prodlike.load's pure parts: docker stats lines, samples, the verdict and the SVG plot."""

import xml.etree.ElementTree as ET

import pytest

from tasks.knowledge.failures import UserError
from tasks.knowledge.heap_plan import MIB
from tasks.knowledge.load_report import (
    CSV_HEADER,
    Outcome,
    Sample,
    csv_row,
    load_options,
    parse_oom_kill,
    parse_stat_size,
    parse_stats_line,
    render,
    render_svg,
    sample_from,
)


@pytest.mark.parametrize(
    "text, expected",
    [("1.316MiB", int(1.316 * MIB)), ("512MiB", 512 * MIB), ("1.5GiB", int(1.5 * 1024**3)), ("97.8kB", 97800),
     ("0B", 0), ("junk", None), ("", None)],
)  # fmt: skip
def test_parse_stat_size(text, expected):
    assert parse_stat_size(text) == expected


def test_streamed_stats_line_with_terminal_escapes():
    line = '\x1b[H\x1b[J{"CPUPerc":"25.10%","MemUsage":"72.5MiB / 512MiB","Name":"w"}'
    parsed = parse_stats_line(line)
    assert parsed is not None
    used, limit, cpu = parsed
    assert (round(used / MIB, 1), limit, cpu) == (72.5, 512 * MIB, 25.1)
    assert parse_stats_line("\x1b[H") is None
    assert parse_stats_line('{"MemUsage":"-- / --"}') is None


def test_oom_kill_counter_v1_and_v2():
    assert parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n") == 3
    assert parse_oom_kill("low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n") == 2
    assert parse_oom_kill("oom_kill_disable 0\nunder_oom 0\n") is None


def test_sample_sums_processes_and_keeps_the_fullest():
    cluster = {
        "restarts": 1,
        "workers": [{"heap_used_mib": 100.0, "rss_mib": 150.0}, {"heap_used_mib": 40.0, "rss_mib": 90.0}],
    }
    sample = sample_from(3.14159, (300 * MIB, 512 * MIB, 50.0), cluster, {"added": 5, "done": 3, "failed": 1})
    assert (sample.memory_mib, sample.heap_used_mib, sample.heap_used_max_mib, sample.rss_mib) == (300, 140, 100, 240)
    assert (sample.processes_reporting, sample.jobs_done, sample.jobs_failed, sample.cluster_restarts) == (2, 3, 1, 1)
    empty = sample_from(1, None, None, {})
    assert empty.memory_mib is None and empty.heap_used_mib is None
    assert len(csv_row(empty)) == len(CSV_HEADER) and csv_row(empty)[1] == ""


def test_clean_run_has_no_problems_and_each_failure_is_named():
    clean = Outcome(cap_bytes=512 * MIB, heap_limit_mib=432, processes=1, added=10, done=10, seconds=5)
    assert clean.problems() == [] and "2.00 jobs/s" in render(clean)
    heap = Outcome(cap_bytes=512 * MIB, heap_limit_mib=432, processes=1, heap_failures=1, cluster_restarts=1)
    assert any("JavaScript heap out of memory" in p for p in heap.problems())
    kernel = Outcome(cap_bytes=512 * MIB, heap_limit_mib=11312, processes=1, oom_kills=1, cluster_restarts=1)
    assert any(p.startswith("the kernel OOM-killed 1 process") for p in kernel.problems())
    whole = Outcome(cap_bytes=512 * MIB, heap_limit_mib=432, processes=1, oom_killed=True, container_restarts=1)
    assert any("OOM-killed the container" in p for p in whole.problems())
    assert any("restarted 1" in p for p in whole.problems())
    jobs = Outcome(cap_bytes=512 * MIB, heap_limit_mib=432, processes=1, failed=2, unfinished=1)
    assert len(jobs.problems()) == 2


def test_svg_draws_series_cap_and_heap_limit():
    samples = [Sample(t, 100 + t, 1.0, 50 + t, 50 + t, 80.0, 1, 0, 0, 0, 0) for t in (0.0, 1.0, 2.0)] + [
        Sample(3.0, None, None, None, None, None, 0, 0, 0, 0, None)
    ]
    svg = render_svg(samples, 512, 432, "load <512m>")
    root = ET.fromstring(svg)  # well-formed, title escaped
    ns = "{http://www.w3.org/2000/svg}"
    polylines = {p.get("class"): p.get("points").split() for p in root.iter(f"{ns}polyline")}
    assert len(polylines["memory_mib"]) == 3 and len(polylines["heap_used_mib"]) == 3
    lines = {ln.get("class"): ln for ln in root.iter(f"{ns}line") if ln.get("class")}
    assert set(lines) == {"memory", "heap"}
    # The cap sits above the heap limit (smaller y on screen).
    assert float(lines["memory"].get("y1", "")) < float(lines["heap"].get("y1", ""))
    assert "load &lt;512m&gt;" in svg


def test_load_options():
    opts = load_options(None, None, "16", "200", "0", "0", "4", "90")
    assert opts.duration_s == 30 and opts.count is None
    assert load_options("5", None, "1", "0", "0.5", "2", "1", "0").count == 5
    for bad in [("1", "2", "16", "0", "0", "0", "4", "9"), ("0", None, "16", "0", "0", "0", "4", "9"),
                (None, None, "x", "0", "0", "0", "4", "9"), (None, None, "16", "0", "1.5", "0", "4", "9"),
                (None, None, "16", "0", "0", "0", "0", "9")]:  # fmt: skip
        with pytest.raises(UserError):
            load_options(*bad)
