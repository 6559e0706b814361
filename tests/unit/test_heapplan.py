"""Size parsing and the V8 heap plan (seed values, small containers, several processes, bad input)."""

import pytest

from tasks.knowledge.heap_plan import MIB, PlanError, parse_cpus, parse_size, plan_heap


@pytest.mark.parametrize(
    "text, expected",
    [
        ("13g", 13 * 1024**3),
        ("13G", 13 * 1024**3),
        ("512m", 512 * MIB),
        ("12.977GiB", int(12.977 * 1024**3)),
        ("1073741824", 1073741824),
        ("1024k", MIB),
        ("2048b", 2048),
    ],
)
def test_parse_size_accepts_compose_forms(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["13gb", "512MB", "abc", "", "0", "-1g", "1.5", "13 x", "1e9"])
def test_parse_size_rejects_with_one_line(text):
    with pytest.raises(PlanError) as info:
        parse_size(text)
    assert "\n" not in str(info.value) and repr(text) in str(info.value)


def test_ambiguous_decimal_unit_says_what_to_write():
    with pytest.raises(PlanError, match="write 13g"):
        parse_size("13gb")


def test_seed_000_numbers_break_seed_004_check():
    seed = plan_heap(parse_size("13g"), heap_mb=11264, semi_space_mib=64)
    assert seed.heap_limit_mib == 11456  # old space + 3 semi-spaces, as Node 20 reports
    assert round(seed.heap_share * 100, 1) == 86.1
    assert not seed.within_ratio and seed.warnings()


def test_default_13g_plan_satisfies_its_own_check():
    plan = plan_heap(parse_size("13g"))
    assert plan.semi_space_mib == 64
    assert plan.old_space_mib == 11123 and plan.heap_limit_mib == 11315
    assert plan.within_ratio and plan.heap_share <= 0.85
    assert plan.node_options == "--max-old-space-size=11123 --max-semi-space-size=64"


def test_512m_gives_seed_004_old_space_and_keeps_the_reserve():
    plan = plan_heap(parse_size("512m"))
    assert plan.old_space_mib == 384  # 512 = 384 heap + ~100 native + ~28 overhead
    assert plan.heap_limit_mib == 432  # what Node 20 reports for --max-old-space-size=384
    assert plan.within_ratio


def test_several_processes_share_the_memory():
    one = plan_heap(parse_size("8g"))
    four = plan_heap(parse_size("8g"), processes=4)
    assert four.heap_limit_mib * 4 <= 0.85 * 8192
    assert four.old_space_mib < one.old_space_mib / 3
    assert four.within_ratio


def test_lower_ratio_gives_smaller_heap():
    assert plan_heap(parse_size("4g"), ratio=0.75).heap_limit_mib <= 0.75 * 4096


def test_too_little_memory_is_refused():
    with pytest.raises(PlanError, match="too little memory"):
        plan_heap(parse_size("128m"))
    with pytest.raises(PlanError, match="too little memory"):
        plan_heap(parse_size("512m"), processes=4)


def test_explicit_heap_within_ratio_has_no_warning():
    assert plan_heap(parse_size("13g"), heap_mb=10000).warnings() == []


@pytest.mark.parametrize("ratio", [0, -0.5, 1.5])
def test_bad_ratio(ratio):
    with pytest.raises(PlanError):
        plan_heap(parse_size("1g"), ratio=ratio)


def test_parse_cpus():
    assert parse_cpus("1.5") == 1.5
    for bad in ("0", "-1", "x", "nan", "inf"):
        with pytest.raises(PlanError):
            parse_cpus(bad)
