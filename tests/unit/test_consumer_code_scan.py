"""The in-container code scan (`tasks/runner/consumers.cjs snapshot`), run here on a real Node process.

It reads /proc as it does inside a worker container, so this runs on Linux only. A monorepo's worker
often keeps its SIGTERM handler in a shared package: the scan follows what the entry loads by a
relative path or through a workspace link, and leaves real dependencies (under node_modules) unread.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.drivers import container_stop

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the scan reads /proc, as inside a container"),
    pytest.mark.skipif(shutil.which("node") is None and not os.environ.get("CI"), reason="node not installed"),
]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_scan_follows_the_apps_own_code_into_shared_packages_but_not_dependencies(tmp_path):
    root = tmp_path / "shop"
    queue = write(root / "packages/queue/index.js", "process.on('SIGTERM', () => process.exit(0));\n")
    util = write(root / "packages/util/src/index.ts", 'process.once("SIGINT", () => {});\n')
    # tsx resolves `./src/index.js` to index.ts; plain Node here never calls it (the scan reads text)
    write(root / "packages/util/index.js", "module.exports = () => require('./src/index.js');\n")
    dependency = write(root / "apps/email/node_modules/dep/index.js", "process.on('SIGTERM', () => {});\n")
    (root / "apps/email/node_modules/@shop").mkdir(parents=True)
    (root / "apps/email/node_modules/@shop/util").symlink_to(root / "packages/util")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        write(
            root / "apps/email/src/main.js",
            "require('../../../packages/queue/index.js');\n"
            "const util = require('@shop/util');\n"
            "import('dep').catch(() => {});\n"
            "const net = require('node:net');\n"
            f"net.connect({port}, '127.0.0.1');\n"
            "setInterval(() => {}, 1000);\n",
        )
        app = subprocess.Popen(["node", "src/main.js"], cwd=root / "apps/email")
        try:
            server.settimeout(10)
            connection, _ = server.accept()
            with connection:
                time.sleep(0.2)  # the connection ESTABLISHED on the app's side too
                out = subprocess.run(
                    ["node", "-e", container_stop.script(), "snapshot", str(port)],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                ).stdout
        finally:
            app.kill()
            app.wait()
    scan = json.loads(out)["scans"][str(app.pid)]
    assert scan["entries"] == [str(root / "apps/email/src/main.js")]
    assert scan["sigterm"] == [str(queue)]  # a relative path out of the entry's folder
    assert scan["sigint"] == [str(util)]  # a workspace link, then a `.ts` loaded as `.js`
    assert str(dependency) not in scan["sigterm"]  # a real dependency is not the app's code
