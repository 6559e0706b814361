"""`inv prodlike.up` on a built tree: planned vs measured caps and heap, and its time against the raw
`docker compose -f docker-compose.yml -f docker-compose.worker-prodlike.yml up -d worker` call.

    eval "$(bash .ci/local-images 2>/dev/null)"; .venv/bin/python bench/prodlike.py [--rounds 5]

Plans: 13g (the default; with as many CPUs as the engine has when that is fewer than the default
3, since Docker refuses more) and 512m with 1 CPU. The inv time includes `prodlike.verify`, which
`prodlike.up` runs last (docker inspect plus `node` inside the container); it is also timed alone.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import INV, ROOT, isolated_stack, ms, ratio, run_checked, run_main, summary, table

from tasks.knowledge.heap_plan import parse_size, plan_heap
from tasks.knowledge.prodlike_plan import compose_env


def timed(argv, env) -> float:
    start = time.perf_counter()
    run_checked(argv, env=env, timeout=300)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    engine_cpus = int(
        subprocess.run(
            ["docker", "info", "--format", "{{.NCPU}}"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    plans = [("13g", min(3, engine_cpus)), ("512m", 1)]
    with isolated_stack("benchpl") as stack:
        env = stack.environ
        run_checked([INV, "worker.up"], env=env, timeout=600, what="inv worker.up (setup)")
        rows = []
        for memory, cpus in plans:
            flags = ["--cpus", str(cpus), "--memory", memory]
            first = run_checked([INV, "prodlike.up", *flags], env=env, timeout=600)
            out = first.stdout
            print(f"\n== plan {memory}, {cpus} CPU(s): planned vs measured (prodlike.up's verify)")
            print(out[out.index("NODE_OPTIONS") :].split("\n", 1)[0])
            print(out[out.index("     check") :].rstrip() if "     check" in out else out[-1500:])
            heap_plan = plan_heap(parse_size(memory), cpus=cpus)
            raw_env = {**env, **compose_env(heap_plan)}
            raw = [
                "docker",
                "compose",
                "--env-file",
                str(stack.env_file),
                "-f",
                str(ROOT / "docker-compose.yml"),
                "-f",
                str(ROOT / "docker-compose.worker-prodlike.yml"),
                "--profile",
                "worker",
                "up",
                "-d",
                "worker",
            ]
            times = {"inv prodlike.up": [], "raw compose up": [], "inv prodlike.verify": []}
            for round_ in range(args.rounds):
                order = [
                    ("inv prodlike.up", [INV, "prodlike.up", *flags], env),
                    ("raw compose up", raw, raw_env),
                    ("inv prodlike.verify", [INV, "prodlike.verify", *flags], env),
                ]
                for name, argv, run_env in order[round_ % 3 :] + order[: round_ % 3]:
                    times[name].append(timed(argv, run_env))
            stats = {name: summary(values) for name, values in times.items()}
            for name, st in stats.items():
                rows.append([f"{memory}/{cpus}cpu", name, ms(st["median"]), ms(st["min"]), ms(st["max"])])
            rows.append(
                [
                    f"{memory}/{cpus}cpu",
                    "ratio up/raw",
                    ratio(stats["inv prodlike.up"]["median"], stats["raw compose up"]["median"]),
                    "",
                    "",
                ]
            )
        print("\n" + table(["plan", "command", "median ms", "min ms", "max ms"], rows))
    return 0


if __name__ == "__main__":
    run_main(main)
