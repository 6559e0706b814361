"""What a worker service needs in the compose files for these tasks, and how to get it (pure).

`inv doctor` runs these on the stack as Compose resolves it. The fix it points at is `inv adopt`,
which writes the collection's own override (compose.devstack.yaml) and never the user's compose
files: one of those may also be a deployment's quick start, where a profile would make the workers
vanish. Where a line is given for doing it by hand, it says to *replace* an existing key.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..knowledge.adopt_plan import OVERRIDE_FILE
from ..knowledge.stack_config import StackConfig


@dataclass(frozen=True)
class Advice:
    ok: bool  # False: the tasks cannot work this way (FAIL); True with text: advice (WARN)
    text: str


def worker_advice(stack: StackConfig, service_name: str, profile: str, build_mode: str) -> list[Advice]:
    """Problems of one worker service, each with the compose lines that fix it."""
    service = stack.service(service_name)
    if service is None:
        known = ", ".join(sorted(stack.services)) or "none"
        return [
            Advice(
                False,
                f"no service {service_name!r} in the compose files (services: {known}): run `inv adopt` (it "
                "finds the worker services and writes invoke.yaml), or set the worker's `service` in invoke.yaml",
            )
        ]
    advice = []
    if not service.profiles:
        advice.append(
            Advice(
                True,
                f"service {service_name!r} has no profile, so a plain `docker compose up` starts it too: run "
                f"`inv adopt` (it gives the profile in {OVERRIDE_FILE}, leaving your compose files as they are)",
            )
        )
    elif profile and profile not in service.profiles:
        advice.append(
            Advice(
                True,
                f"service {service_name!r} has profiles {list(service.profiles)}, invoke.yaml says {profile!r}: "
                f"set the worker's `profile` to one of them",
            )
        )
    if service.restart == "always":
        advice.append(
            Advice(
                True,
                f"service {service_name!r} has restart policy 'always', so a worker stopped by a dev session or "
                f"`inv worker.down` comes back when Docker restarts, beside the dev worker on its queue: run `inv "
                f"adopt` (its {OVERRIDE_FILE} sets `restart: unless-stopped`)",
            )
        )
    elif service.restart != "unless-stopped":
        advice.append(
            Advice(
                True,
                f"service {service_name!r} has restart policy {service.restart or 'no'!r}, so it does not come back "
                f"when Docker starts: run `inv adopt` (its {OVERRIDE_FILE} sets `restart: unless-stopped`; by hand, "
                f"replace the service's `restart:` line, or add one, with `restart: unless-stopped`)",
            )
        )
    if build_mode in ("image", "host") and not service.build:
        advice.append(
            Advice(
                True,
                f"service {service_name!r} has no `build:` section, so `--build` cannot rebuild its image "
                f"(invoke.yaml says build_mode {build_mode}; `none` fits a worker that runs a pulled image)",
            )
        )
    return advice


def label_lines(label: str, fingerprint_var: str, service_name: str) -> str:
    """How to let the tasks tell an image's build from the sources it was built from."""
    return f"run `inv adopt` (its {OVERRIDE_FILE} labels the image through `build.labels`), or by hand: " + (
        f"add `ARG SOURCE_FINGERPRINT=unknown` and `LABEL {label}=${{SOURCE_FINGERPRINT}}` to its Dockerfile's "
        f"last stage, and `SOURCE_FINGERPRINT: ${{{fingerprint_var}:-unknown}}` under "
        f"`services.{service_name}.build.args`"
        if label.endswith("source-fingerprint")
        else f"add `ARG DIST_FINGERPRINT=unknown` and `LABEL {label}=${{DIST_FINGERPRINT}}` to its Dockerfile, and "
        f"`DIST_FINGERPRINT: ${{{fingerprint_var}:-unknown}}` under `services.{service_name}.build.args`"
    )
