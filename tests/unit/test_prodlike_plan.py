"""tasks/knowledge/prodlike_plan.py: the plan's text."""

from tasks.knowledge.heap_plan import MIB, plan_heap
from tasks.knowledge.prodlike_plan import describe


def test_the_plan_claims_nothing_about_the_command_it_does_not_set():
    """An adopted repository's overlay (compose.devstack.prodlike.yaml) sets NODE_ENV, NODE_OPTIONS and
    the caps, and keeps the service's own command (`tsx watch`, a bind-mounted `src/`...)."""
    text = describe(plan_heap(512 * MIB, cpus=1.0))
    assert "NODE_ENV:          production" in text.splitlines()
    assert "compiled output" not in text and "no watch" not in text


def test_the_seeds_caps_fit_to_an_engine_that_cannot_give_them_each_said():
    from tasks.knowledge.engine_info import EngineInfo
    from tasks.knowledge.prodlike_plan import fit_to_engine

    small = EngineInfo("20.10", 2, 8 * 1024**3)
    cpus, memory, notes = fit_to_engine({}, None, None, small)
    assert (cpus, memory) == ("2", "8192m")
    assert notes[0].startswith("the default 3 CPUs are more than the Docker engine has: planning its 2")
    assert notes[1].startswith("the default 13g memory is more than the Docker engine has: planning its 8192 MiB")
    # asked for (flags or .env): left as asked, for check_engine to judge
    assert fit_to_engine({}, "3", "13g", small) == ("3", "13g", [])
    assert fit_to_engine({"PRODLIKE_CPUS": "4", "PRODLIKE_MEMORY": "1g"}, None, None, small) == (None, None, [])
    # an engine that has them: the seed's figures
    assert fit_to_engine({}, None, None, EngineInfo("28", 8, 32 * 1024**3)) == (None, None, [])
