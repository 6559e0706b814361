"""Production's caps read from the definitions in tests/unit/data/prod (tasks/knowledge/prod_source.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.knowledge import prod_source as ps
from tasks.knowledge.failures import UserError
from tasks.knowledge.heap_plan import plan_heap
from tasks.knowledge.prodlike_plan import source_lines

DATA = Path(__file__).parent / "data" / "prod"
MIB = 1024 * 1024


def docs(name: str) -> list:
    return ps.load_documents((DATA / name).read_text(encoding="utf-8"), name)


def caps(reference: str, default: str = "worker") -> ps.ProdCaps:
    return ps.read_caps(docs(ps.split_reference(reference)[0]), reference, default)


def test_a_rendered_helm_chart_gives_the_worker_container_of_its_deployment():
    found = caps("helm-rendered.yaml#worker")
    assert found.format == "Kubernetes Deployment shop-worker"
    assert (found.cpus.value, found.memory.value) == (0.5, 768 * MIB)
    assert (found.cpus_reserved.value, found.memory_reserved.value) == (0.25, 256 * MIB)
    assert found.instances.value == 3
    assert found.memory is not None
    assert found.origin(found.memory) == (
        "helm-rendered.yaml#worker: spec.template.spec.containers[0].resources.limits.memory 768Mi"
    )
    # without `#`: the container named like the worker's service
    assert caps("helm-rendered.yaml", default="worker").cpus.value == 0.5


def test_a_cronjob_a_workload_name_and_decimal_units():
    nightly = caps("helm-rendered.yaml#nightly")
    assert nightly.format == "Kubernetes CronJob shop-nightly"
    assert nightly.memory.value == 10**9  # 1G is decimal in Kubernetes
    assert nightly.memory.key.startswith("spec.jobTemplate.spec.template.spec.containers[0]")
    assert nightly.instances is None
    # a workload named so with one container
    assert caps("helm-rendered.yaml#shop-api").cpus.value == 2
    assert caps("helm-rendered.yaml#shop-worker/log-shipper").memory.value == 64 * MIB


def test_a_workload_with_several_containers_is_not_guessed():
    with pytest.raises(UserError, match=r"no container 'shop-worker'.*shop-worker/log-shipper"):
        caps("helm-rendered.yaml#shop-worker")


def test_a_statefulset_without_replicas_runs_one():
    found = caps("statefulset.yml", default="sync")
    assert (found.cpus.value, found.memory.value, found.instances.value) == (1.5, 1.5 * 1024 * MIB, 1)


def test_compose_deploy_resources_with_an_interpolated_default():
    found = caps("docker-compose.prod.yml#worker")
    assert (found.cpus.value, found.memory.value) == (0.75, 640 * MIB)
    assert found.memory.written == "640m"
    assert (found.cpus_reserved.value, found.memory_reserved.value, found.instances.value) == (0.25, 256 * MIB, 2)


def test_a_malformed_size_in_production_is_one_line_naming_its_key():
    with pytest.raises(UserError) as error:
        caps("docker-compose.prod.yml#mailer")
    assert error.value.reason.startswith("docker-compose.prod.yml: services.mailer.mem_limit: bad size '13gb'")
    assert "\n" not in str(error.value)


def test_a_compose_value_from_the_environment_without_default_is_refused():
    documents = [{"services": {"worker": {"deploy": {"resources": {"limits": {"memory": "${MEM}"}}}}}}]
    with pytest.raises(UserError, match="set from the environment"):
        ps.read_caps(documents, "x.yml", "worker")


def test_an_ecs_task_definition_task_level_cpu_container_memory():
    found = caps("task-definition.json#worker")
    assert found.format == "ECS task definition shop-worker"
    assert found.cpus.value == 1.0 and found.cpus.key == "cpu (task-level)"
    assert found.memory.value == 1536 * MIB and found.memory.key == "containerDefinitions[0].memory"
    assert found.memory_reserved.value == 1024 * MIB
    assert found.cpus_reserved.value == 0.75  # the container's units, a share within the task


def test_ecs_describe_output_container_level_only():
    found = caps("ecs-container-only.json", default="anything")  # its only container
    assert (found.cpus.value, found.memory.value) == (0.5, 1024 * MIB)
    assert "relative share" in found.notes[0]


def test_cloud_foundry_apps_and_process_types():
    worker = caps("manifest.yml#worker")
    assert worker.format == "Cloud Foundry app shop/worker"
    assert (worker.cpus, worker.memory.value, worker.instances.value) == (None, 2048 * MIB, 3)
    assert caps("manifest.yml#shop-web").memory.value == 1024 * MIB
    with pytest.raises(UserError, match="no application or process 'email'"):
        caps("manifest.yml#email")


def test_files_that_are_not_definitions_or_not_parseable():
    with pytest.raises(UserError, match="not a production definition"):
        ps.read_caps([{"name": "x"}], "package.yaml", "worker")
    with pytest.raises(UserError, match="is not valid YAML"):
        ps.load_documents("a: [b\n", "k8s/bad.yaml")
    with pytest.raises(UserError, match="is not valid JSON"):
        ps.load_documents("{", "task.json")


def test_choose_a_flag_then_env_then_production_then_the_seed():
    prod = caps("helm-rendered.yaml#worker")
    chosen = ps.choose({}, None, None, prod)
    assert (chosen.cpus, chosen.memory) == ("0.5", str(768 * MIB))
    assert chosen.cpus_origin.startswith("production: helm-rendered.yaml#worker: ")
    chosen = ps.choose({"PRODLIKE_MEMORY": "1g"}, "1", None, prod)
    assert (chosen.cpus, chosen.cpus_origin) == ("1", "--cpus")
    assert (chosen.memory, chosen.memory_origin) == ("1g", "PRODLIKE_MEMORY (.env or the shell)")
    assert ps.choose({}, None, None, None) == ps.Chosen(None, None, "", "")


def test_the_plan_says_production_s_other_figures_and_the_drift():
    prod = caps("helm-rendered.yaml#worker")
    same = plan_heap(768 * MIB, cpus=0.5)
    lines = source_lines(prod, same, {}, "overlay.yml")
    assert (
        lines[0] == "production:        helm-rendered.yaml#worker (Kubernetes Deployment shop-worker, container worker)"
    )
    assert any("reserved:" in line and "requests.cpu 250m" in line for line in lines)
    assert any("instances:       3" in line for line in lines)
    assert not [line for line in lines if line.startswith("drift:")]
    other = plan_heap(1024 * MIB, cpus=1)
    drift = [line for line in source_lines(prod, other, {"memory": "2g"}, "overlay.yml") if line.startswith("drift:")]
    assert drift == [
        "drift: cpus 1 planned, production's 0.5 (helm-rendered.yaml#worker: "
        "spec.template.spec.containers[0].resources.limits.cpu 500m)",
        "drift: memory 1.00 GiB planned, production's 768 MiB (helm-rendered.yaml#worker: "
        "spec.template.spec.containers[0].resources.limits.memory 768Mi)",
        "drift: overlay.yml fixes memory 2g, the plan says 1.00 GiB: Compose applies the file's",
    ]


def test_the_overlay_s_fixed_caps_are_those_not_from_the_plan():
    overlay = {
        "services": {"worker": {"deploy": {"resources": {"limits": {"cpus": "${PRODLIKE_CPUS:-3}", "memory": "1g"}}}}}
    }
    assert ps.overlay_fixed(overlay, "worker") == {"memory": "1g"}
    assert ps.overlay_fixed(overlay, "other") == {}


def test_adopt_picks_a_production_file_over_a_staging_one():
    found = [
        ("deploy/staging/worker.yaml", docs("helm-rendered.yaml")),
        ("deploy/prod/worker.yaml", docs("helm-rendered.yaml")),
        ("docker-compose.prod.yml", docs("docker-compose.prod.yml")),
        ("manifest.yml", docs("manifest.yml")),
    ]
    reference, others = ps.pick(found, "worker")
    assert reference == "deploy/prod/worker.yaml#worker"
    assert others == ["docker-compose.prod.yml#worker", "manifest.yml#worker", "deploy/staging/worker.yaml#worker"]
    assert ps.pick(found, "mailer") == (None, [])  # its 13gb cannot be read: not proposed
    assert ps.pick(found, "email") == (None, [])
