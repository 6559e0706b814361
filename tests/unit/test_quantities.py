"""Each format's quantities, as its reference defines them (tasks/knowledge/quantities.py)."""

from __future__ import annotations

import pytest

from tasks.knowledge.quantities import (
    QuantityError,
    cf_memory,
    compose_cpus,
    compose_memory,
    ecs_cpu,
    ecs_memory,
    k8s_cpu,
    k8s_memory,
    whole_count,
)

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("written", "cpus"), [("500m", 0.5), ("250m", 0.25), ("2", 2.0), ("0.5", 0.5), (1, 1.0), (1.5, 1.5), ("1500m", 1.5)]
)
def test_kubernetes_cpu(written, cpus):
    assert k8s_cpu(written) == cpus


@pytest.mark.parametrize(
    ("written", "size"),
    [
        ("1Gi", 2**30),
        ("1G", 10**9),
        ("512Mi", 512 * MIB),
        ("500M", 500 * 10**6),
        ("128974848", 128974848),
        (128974848, 128974848),
        ("129e6", 129 * 10**6),
        ("123Ki", 123 * 1024),
        ("1.5Gi", 3 * 2**29),
        ("128974848000m", 128974848),
        ("1k", 1000),
    ],
)
def test_kubernetes_memory(written, size):
    assert k8s_memory(written) == size


@pytest.mark.parametrize("bad", ["1GB", "512MB", "1gi", "lots", "", "-1Gi", "0", "1 Gi", True, None])
def test_kubernetes_memory_refuses_what_kubernetes_refuses(bad):
    with pytest.raises(QuantityError) as error:
        k8s_memory(bad)
    assert "\n" not in str(error.value)


def test_a_kubernetes_memory_with_a_b_says_which_units_exist():
    with pytest.raises(QuantityError, match="not Kubernetes units: Gi, Mi for binary"):
        k8s_memory("2GB")


@pytest.mark.parametrize("bad", ["500mi", "1 core", "0m", "", "m", "-1"])
def test_kubernetes_cpu_refuses(bad):
    with pytest.raises(QuantityError):
        k8s_cpu(bad)


def test_compose_values_are_read_as_docker_reads_them():
    assert compose_cpus("0.75") == 0.75
    assert compose_cpus(2) == 2.0
    assert compose_memory("640m") == 640 * MIB
    assert compose_memory("2g") == 2 * 1024 * MIB
    assert compose_memory(536870912) == 536870912


def test_compose_refuses_13gb_in_one_line():
    with pytest.raises(QuantityError) as error:
        compose_memory("13gb")
    assert "ambiguous" in str(error.value) and "13g" in str(error.value)


def test_ecs_units():
    assert ecs_cpu(1024) == 1.0
    assert ecs_cpu("512") == 0.5
    assert ecs_cpu("1 vCPU") == 1.0
    assert ecs_cpu("0.25 vcpu") == 0.25
    assert ecs_memory(1536) == 1536 * MIB
    assert ecs_memory("2048") == 2048 * MIB
    assert ecs_memory("2 GB") == 2048 * MIB
    assert ecs_memory("0.5GB") == 512 * MIB
    for bad in ("1.5", "two", "2 GiB", "0"):
        with pytest.raises(QuantityError):
            ecs_cpu(bad) if "GiB" not in bad else ecs_memory(bad)


def test_cloud_foundry_sizes_are_binary_in_any_case():
    assert cf_memory("2G") == 2048 * MIB
    assert cf_memory("512M") == 512 * MIB
    assert cf_memory("1024MB") == 1024 * MIB
    assert cf_memory("1gb") == 1024 * MIB
    assert cf_memory("1T") == 1024 * 1024 * MIB
    for bad in ("2", "2Gi", "lots", "0M"):
        with pytest.raises(QuantityError):
            cf_memory(bad)


def test_counts():
    assert whole_count(3, "replicas") == 3
    assert whole_count("0", "replicas") == 0
    with pytest.raises(QuantityError, match="bad instances"):
        whole_count("two", "instances")
