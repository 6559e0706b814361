"""Record the replies the job-fate reading gets from a real Redis (see tests/unit/data/job_fate/README.md)."""

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))  # the checkout: run with its .venv's python

from tasks.drivers.job_fate import Connection
from tasks.drivers.queue_consumers import Redis
from tasks.knowledge import job_fate as jf
from tasks.knowledge.bullmq_clients import RedisAddress

lib, a, b, out = sys.argv[1:5]
redis = Redis(RedisAddress("127.0.0.1", 36379))
with Connection(redis) as c:
    c.send([("FLUSHALL",)])
node = subprocess.Popen(["node", a], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
print(node.stdout.readline().strip())


def exchange(conn, commands):
    replies = conn.send(commands)
    return [{"command": list(cmd), "reply": r} for cmd, r in zip(commands, replies, strict=True)]


rec: dict[str, Any] = {"library": lib}
with Connection(redis) as c:
    keys = []
    cursor = "0"
    while True:
        cursor, found = jf.scan_cursor(c.send([("SCAN", cursor, "COUNT", "1000")])[0])
        keys += found
        if cursor == "0":
            break
    keys.sort()
    rec["layout"] = exchange(c, [("TYPE", k) for k in keys])
    rec["client_list"] = exchange(c, [("CLIENT", "LIST")])
    scans = []
    for pattern in jf.SCAN_PATTERNS:
        scans += exchange(c, [("SCAN", "0", "MATCH", pattern, "COUNT", jf.SCAN_COUNT)])
    rec["scan"] = scans
    queues = jf.candidate_queues(k for s in scans for k in jf.scan_cursor(s["reply"])[1])
    rec["confirm"] = exchange(c, [cmd for q in queues for cmd in jf.confirm_commands(q)])
    real = [q for i, q in enumerate(queues) if jf.confirmed([e["reply"] for e in rec["confirm"][3 * i : 3 * i + 3]])]
    rec["active"] = exchange(c, jf.active_commands(real))
    jobs, library = jf.active_ids(real, [e["reply"] for e in rec["active"]])
    rec["locks"] = exchange(c, jf.lock_commands(jobs))
    rec["counts"] = exchange(c, jf.count_commands(real))
    snap = jf.snapshot(real, jobs, [e["reply"] for e in rec["locks"]], library)
subprocess.run(["node", b], check=True)
with Connection(redis) as c:
    c.send([("DEL", snap.queues[0].key("cut-3:lock"))])
node.stdin.close()
node.wait()
time.sleep(0.3)
with Connection(redis) as c:
    rec["after_client_list"] = exchange(c, [("CLIENT", "LIST")])
    rec["after"] = exchange(c, jf.after_commands(snap))
json.dump(rec, open(out, "w"), indent=1)
print("recorded", out, [j.id for j in snap.jobs], library)
