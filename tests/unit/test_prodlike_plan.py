"""tasks/knowledge/prodlike_plan.py: the plan's text."""

from tasks.knowledge.heap_plan import MIB, plan_heap
from tasks.knowledge.prodlike_plan import describe


def test_the_plan_claims_nothing_about_the_command_it_does_not_set():
    """An adopted repository's overlay (compose.devstack.prodlike.yaml) sets NODE_ENV, NODE_OPTIONS and
    the caps, and keeps the service's own command (`tsx watch`, a bind-mounted `src/`...)."""
    text = describe(plan_heap(512 * MIB, cpus=1.0))
    assert "NODE_ENV:          production" in text.splitlines()
    assert "compiled output" not in text and "no watch" not in text
