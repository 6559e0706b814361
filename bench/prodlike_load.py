"""The same load under 1 CPU / 512m with the project's heap plan and with the seed's flags: where V8
stops with a heap error and where the kernel OOM-kills, peak memory share, jobs per second.

    eval "$(bash .ci/local-images 2>/dev/null)"; .venv/bin/python bench/prodlike_load.py

Plans (all `--cpus 1 --memory 512m`):
  project   the plan: old space 384 MiB, heap_size_limit 432 MiB (84.4 %)
  seed-433  seed 000's ratio (11264 of 13312 MiB as old space) scaled to 512m: --heap-mb 433
  seed-11264  seed 000's flags copied as they are into a 512m container: --heap-mb 11264
Loads: `steady` (--count 40 --mb 32 --hold-ms 200, nothing retained: jobs/s and peak share) and
`leak` (--count 24 --mb 32 --retain-share 1 --in-flight 1: every job keeps 32 MiB until something stops).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import subprocess

from _common import INV, isolated_stack, run_checked, run_main, table

PLANS = {"project": [], "seed-433": ["--heap-mb", "433"], "seed-11264": ["--heap-mb", "11264"]}
LOADS = {
    "steady": ["--count", "40", "--mb", "32", "--hold-ms", "200"],
    "leak": [
        "--count",
        "24",
        "--mb",
        "32",
        "--hold-ms",
        "50",
        "--retain-share",
        "1",
        "--in-flight",
        "1",
        "--drain",
        "5",
    ],
}


def field(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.M)
    return match.group(1) if match else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    rows = []
    with isolated_stack("benchload") as stack:
        env = stack.environ
        for plan, flags in PLANS.items():
            for load, load_flags in LOADS.items():
                up = run_checked([INV, "prodlike.up", "--cpus", "1", "--memory", "512m", *flags], env=env, timeout=600)
                limit = field(r"^heap_size_limit:\s+(\d+) MiB", up.stdout)
                share = field(r"^heap share:\s+([\d.]+%)", up.stdout)
                out = subprocess.run(
                    [INV, "prodlike.load", *load_flags, "--out", str(stack.tmp / f"{plan}-{load}")],
                    env=env, capture_output=True, text=True, timeout=900,
                )  # fmt: skip
                text = out.stdout + out.stderr
                print(
                    f"\n== {plan} / {load} (exit {out.returncode})\n" + "\n".join(text.splitlines()[-12:]), flush=True
                )
                if "OOM-killed" in text:
                    stopped = "kernel OOM kill"
                elif "JavaScript heap out of memory` (heap" in text:
                    stopped = "V8 heap error"
                else:
                    stopped = "held" if out.returncode == 0 else "failed"
                rows.append(
                    [
                        plan,
                        f"{limit} MiB ({share})",
                        load,
                        stopped,
                        field(r"^peak memory:\s+\d+ MiB of 512 MiB \((\d+%)\)", text),
                        field(r"kernel peak \d+ MiB of 512 MiB \((\d+%)\)", text),
                        field(r"^peak heap:\s+\d+ MiB of \d+ MiB \((\d+%)\)", text),
                        field(r"\(([\d.]+) jobs/s\)", text),
                        field(r"^restarts:\s+(.*)$", text),
                    ]
                )
    print()
    print(
        table(
            [
                "plan",
                "heap limit",
                "load",
                "stopped by",
                "peak mem (stats)",
                "kernel peak",
                "peak heap",
                "jobs/s",
                "restarts",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    run_main(main)
