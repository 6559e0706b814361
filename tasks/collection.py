"""The root collection: namespaces, root tasks and the configuration defaults."""
from __future__ import annotations

from invoke import Collection

from tasks import dev, envtasks, prodlike, stack, worker
from tasks.doctor import doctor
from tasks.settings import DEFAULTS
from tasks.setup import setup


def build_namespace() -> Collection:
    ns = Collection(doctor, setup)
    for module in (worker, dev, stack, envtasks, prodlike):
        ns.add_collection(module.ns)
    # On the root: Invoke merges only the collections on the path to the invoked task.
    ns.configure(DEFAULTS)
    return ns
