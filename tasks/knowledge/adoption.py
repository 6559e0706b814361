"""What a worker service needs in the compose files for these tasks, and the lines to add (pure).

`inv doctor` runs these on the stack as Compose resolves it, so a repository that is not yet adapted
is told exactly what to add, in the file's own terms.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.knowledge.stack_config import StackConfig


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
                f"no service {service_name!r} in the compose files (services: {known}): set the worker's "
                "`service` in invoke.yaml, or add the service",
            )
        ]
    advice = []
    if not service.profiles:
        wanted = profile or "worker"
        advice.append(
            Advice(
                True,
                f"service {service_name!r} has no profile, so a plain `docker compose up` starts it too: add "
                f"`profiles: [{wanted}]` under `services.{service_name}`"
                + ("" if profile else f" and `profile: {wanted}` to the worker in invoke.yaml"),
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
    if service.restart in ("no", ""):
        advice.append(
            Advice(
                True,
                f"service {service_name!r} has no restart policy, so it does not come back when Docker starts: "
                f"add `restart: unless-stopped` under `services.{service_name}`",
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
    """The lines that let the tasks tell an image's build from the sources it was built from."""
    return (
        f"add `ARG SOURCE_FINGERPRINT=unknown` and `LABEL {label}=${{SOURCE_FINGERPRINT}}` to its Dockerfile's "
        f"last stage, and `SOURCE_FINGERPRINT: ${{{fingerprint_var}:-unknown}}` under "
        f"`services.{service_name}.build.args`"
        if label.endswith("source-fingerprint")
        else f"add `ARG DIST_FINGERPRINT=unknown` and `LABEL {label}=${{DIST_FINGERPRINT}}` to its Dockerfile, and "
        f"`DIST_FINGERPRINT: ${{{fingerprint_var}:-unknown}}` under `services.{service_name}.build.args`"
    )
