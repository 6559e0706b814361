"""`inv worker.up` on an already running worker vs the raw Compose call it makes vs the npm script it
replaces, interleaved in one run.

    eval "$(bash .ci/local-images 2>/dev/null)"   # local POSTGRES_IMAGE/REDIS_IMAGE/NODE_IMAGE
    .venv/bin/python bench/worker_up.py [--rounds 15]

Each round runs the three commands once, in rotating order, against one isolated compose project
(own env file, state dir, ports; see tests/integration/stackenv.py) whose worker is already running.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import INV, ROOT, BenchError, Budget, isolated_stack, ms, ratio, run_main, summary, table


def timed(argv, *, env, cwd, timeout) -> tuple[float, str]:
    """Wall time of one call, and its output."""
    start = time.perf_counter()
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise BenchError(
            f"`{' '.join(map(str, argv))}` exited {result.returncode}\n{result.stdout[-1500:]}\n{result.stderr[-1500:]}"
        )
    return elapsed, result.stdout + result.stderr


REBUILD_NOTE = "rebuilding it"  # start_worker's "note: the worker image is older than the compiled output; ..."
SKIP_NOTE = "already running with this configuration"  # start_worker when Compose's `up -d` would be a no-op


def floor_times(env, repeat: int) -> dict[str, list[float]]:
    """Context: what an inv call pays before any task code, and the extra work worker.up does."""
    probes = {
        "docker compose version --short": ["docker", "compose", "version", "--short"],
        "docker image inspect (worker image)": [
            "docker",
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            env["_BENCH_IMAGE"],
        ],
    }
    out = {name: [] for name in probes}
    for _ in range(repeat):
        for name, argv in probes.items():
            out[name].append(timed(argv, env=env, cwd=ROOT, timeout=60)[0])
    # In-process checks of start_worker (when the tasks have them): hashing dist/, walking the sources.
    import yaml

    from tasks.drivers import host_app
    from tasks.knowledge.settings import Settings

    settings = Settings.from_config(yaml.safe_load((ROOT / "invoke.yaml").read_text()), ROOT)  # this repo's app
    for name, fn in (
        ("(in inv) hash of dist/ (host_app.dist_fingerprint)", host_app.dist_fingerprint),
        ("(in inv) dist/sources check (host_app.dist_problem)", host_app.dist_problem),
    ):
        if fn is None:
            continue
        out[name] = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn(settings)
            out[name].append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--budget", type=float, default=900, help="overall time limit in seconds (default 900)")
    args = parser.parse_args()
    budget = Budget(args.budget)

    with isolated_stack("benchup") as stack, tempfile.TemporaryDirectory(prefix="bench-npm-") as npm_dir:
        env = stack.environ
        f = str(stack.env_file)
        compose_file = str(ROOT / "docker-compose.yml")
        # Seed 001's script, plus only what makes it target the same project as the other two.
        script = (
            f"docker compose --env-file {shlex.quote(f)} -f {shlex.quote(compose_file)} "
            f"--project-directory {shlex.quote(str(ROOT))} --profile worker up -d worker"
        )
        Path(npm_dir, "package.json").write_text(
            json.dumps({"name": "bench-worker-up", "private": True, "scripts": {"worker:up": script}}, indent=2)
        )
        py = sys.executable
        commands = {
            "inv": ([INV, "worker.up"], ROOT),
            # What start_worker runs: --env-file (not the root .env), --profile worker, up -d worker.
            "raw": (["docker", "compose", "--env-file", f, "--profile", "worker", "up", "-d", "worker"], ROOT),
            "npm": (["npm", "run", "worker:up"], Path(npm_dir)),
            # worker.status against the one Compose call it makes.
            "inv status": ([INV, "worker.status"], ROOT),
            "raw ps": (["docker", "compose", "--env-file", f, "ps", "-a", "--format", "json", "worker"], ROOT),
            # The start-up floor: Python alone, Python importing Invoke, `inv --list` (Invoke + tasks/).
            "python -c pass": ([py, "-c", "pass"], ROOT),
            "import invoke": ([py, "-c", "import invoke"], ROOT),
            "inv --list": ([INV, "--list"], ROOT),
            # The floor of any inv task that asks Docker: Python importing Invoke, then one `docker ps`
            # of the project (the cheapest question worker.status asks), nothing else.
            "floor: invoke + docker ps": (
                [
                    py,
                    "-c",
                    "import subprocess, invoke; subprocess.run(['docker', 'ps', '-a', '--filter', "
                    f"'label=com.docker.compose.project={stack.project}', '--format', '{{{{json .}}}}'], "
                    "stdout=subprocess.DEVNULL, check=True)",
                ],
                ROOT,
            ),
        }
        print(f"project {stack.project}, env file {f}")
        print(f"  inv: {INV} worker.up   (INVOKE_COMPOSE_ENV_FILE, INVOKE_STATE_DIR set)")
        print(f"  raw: {' '.join(commands['raw'][0])}")
        print(f"  npm: npm run worker:up   ->  {script}")

        print("bringing the stack and worker up once (untimed) ...", flush=True)
        # The timed case is the no-op one. inv rebuilds the image when dist/ is newer than it; a
        # rebuild that is a layer-cache hit keeps the image's old Created time, so inv would rebuild
        # on every call (measured, not the no-op path): then build our own tag once without cache.
        for attempt in range(3):
            _, out = timed([INV, "worker.up"], env=env, cwd=ROOT, timeout=budget.timeout(600))
            if REBUILD_NOTE not in out:
                break
            print(f"  setup inv worker.up #{attempt + 1} rebuilt the image (dist/ newer than the image)", flush=True)
            if attempt == 1:
                print(
                    "  still outdated after a (cached) rebuild: `docker compose build --no-cache worker` once",
                    flush=True,
                )
                stack.compose("--profile", "worker", "build", "--no-cache", "worker", timeout=budget.timeout(600))
        else:
            print("WARNING: inv worker.up still rebuilds the image on every call; the inv figures include it")
        if stack.ps().get("worker") != "running":
            raise BenchError("the worker is not running after the setup `inv worker.up`")
        container = stack.compose("ps", "-q", "worker").stdout.strip()
        # one untimed warm-up of each (page cache, npm's own start-up files)
        for argv, cwd in commands.values():
            timed(argv, env=env, cwd=cwd, timeout=budget.timeout(120))

        order = list(commands)
        samples = {name: [] for name in order}
        rebuilds = 0
        skipped = 0
        for r in range(args.rounds):
            shift = r % len(order)
            rotation = order[shift:] + order[:shift]
            for name in rotation:
                argv, cwd = commands[name]
                elapsed, out = timed(argv, env=env, cwd=cwd, timeout=budget.timeout(120))
                samples[name].append(elapsed)
                if name == "inv" and REBUILD_NOTE in out:
                    rebuilds += 1
                if name == "inv" and SKIP_NOTE in out:
                    skipped += 1
            print(
                f"  round {r + 1:2d}/{args.rounds}: "
                + "  ".join(f"{n}={samples[n][-1] * 1000:.0f}ms" for n in rotation),
                flush=True,
            )
        if rebuilds:
            print(
                f"WARNING: {rebuilds} of {args.rounds} timed inv calls rebuilt the image (dist/ changed during "
                "the run?): those are not the no-op path"
            )
        after = stack.compose("ps", "-q", "worker").stdout.strip()
        if after != container:
            print(
                f"WARNING: the worker container changed during the run ({container[:12]} -> {after[:12]}): "
                "some call recreated it, so that round measured a recreate, not a no-op"
            )

        env_probe = {**env, "_BENCH_IMAGE": stack.extra["WORKER_IMAGE"]}
        floors = floor_times(env_probe, repeat=5)

    stats = {name: summary(v) for name, v in samples.items()}
    print(
        f"\nworker.up on an already running worker and the start-up floor, {args.rounds} interleaved rounds "
        "(ms, wall time)\n"
    )
    print(
        table(
            ["command", "median", "min", "p90", "max"],
            [[name, ms(st["median"]), ms(st["min"]), ms(st["p90"]), ms(st["max"])] for name, st in stats.items()],
        )
    )
    print("\nratios (median / median; min / min):")
    for mine, other in (
        ("inv", "raw"),
        ("inv", "npm"),
        ("inv status", "raw ps"),
        ("floor: invoke + docker ps", "raw ps"),
        ("inv status", "floor: invoke + docker ps"),
        ("inv --list", "import invoke"),
    ):
        print(
            f"  {mine} / {other}: {ratio(stats[mine]['median'], stats[other]['median'])} median, "
            f"{ratio(stats[mine]['min'], stats[other]['min'])} min, "
            f"difference {ms(stats[mine]['median'] - stats[other]['median'])} ms median"
        )
    print(f"  timed inv calls that rebuilt the image: {rebuilds} of {args.rounds}")
    print(f"  timed inv calls that skipped Compose's no-op `up -d` ({SKIP_NOTE!r}): {skipped} of {args.rounds}")
    print("\ncontext: costs inside an inv call (5 runs each, ms)\n")
    print(
        table(
            ["probe", "median", "min"],
            [[name, ms(summary(v)["median"]), ms(summary(v)["min"])] for name, v in floors.items()],
        )
    )
    print(
        "\n`inv worker.up` = python + invoke + tasks import, the handover record check (files), one "
        "`docker ps -a` of the project (prod-like note, own ports, the no-op test), the dist/ checks, then "
        "in parallel `docker image inspect` (does the image hold this dist/?), the images' ids and Compose's "
        "`config --hash` (cached with the config); the raw `up -d worker` only when it would change something, "
        "else the worker's health from the `docker ps` row."
    )
    print(
        "`inv worker.status` = python + invoke + tasks import, the settings and the cached configuration, "
        "then `docker ps -a` of the project and `docker inspect` of the worker's container started side by "
        "side (tasks/drivers/worker_status.py); while they run, the modules that read the rest are imported; "
        "then the queues from Redis (at the port `docker ps` shows) and the handover record."
    )
    return 0


if __name__ == "__main__":
    run_main(main)
