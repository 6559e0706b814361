"""How messages name a worker service (pure).

`the background worker` reads right for a service named `worker`, and `the background sync-worker`
for one whose name says it is a worker; any other name (`email`, `jobs`, `workers`) is named as what
it is: `the background worker `email``, never `the background workers was stopped`.
"""

from __future__ import annotations


def background(service: str) -> str:
    """`background worker`, `background sync-worker` or ``background worker `email` ``."""
    if service == "worker" or (service.endswith("worker") and service[: -len("worker")].endswith(("-", "_", "."))):
        return f"background {service}"
    return f"background worker `{service}`"
