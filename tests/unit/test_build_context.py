"""tasks/knowledge/build_context.py: which context files an image build reads (stages, .dockerignore),
and the fingerprint of an image-built worker following them."""

from __future__ import annotations

from pathlib import Path

import pytest
from invoke.config import Config

from tasks.drivers.host_app import source_fingerprint
from tasks.knowledge.build_context import BuildInputs, dockerfile_copy_sources, dockerignore
from tasks.knowledge.defaults import DEFAULTS
from tasks.knowledge.settings import Settings

MULTI_STAGE = """\
# syntax=docker/dockerfile:1
FROM node:24 AS base
WORKDIR /app
COPY package.json package-lock.json ./

FROM base AS dev
COPY src ./src
CMD ["npx", "tsx", "watch", "src/worker.ts"]

FROM base AS build
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM node:24-slim AS prod
COPY --from=build /app/dist ./dist
COPY dist-extra \\
     ./extra
CMD ["node", "dist/worker.js"]
"""


@pytest.mark.parametrize(
    "target, expected",
    [
        ("dev", ["package.json", "package-lock.json", "src"]),  # base + dev: not the prod stage's dist
        ("DEV", ["package.json", "package-lock.json", "src"]),
        ("build", ["package.json", "package-lock.json", "tsconfig.json", "src"]),
        # no target: the last stage, the stage it copies from, and that one's base
        (None, ["package.json", "package-lock.json", "tsconfig.json", "src", "dist-extra"]),
        # a target the file does not name: every stage's (never fewer than Docker may read)
        ("nope", ["package.json", "package-lock.json", "src", "tsconfig.json", "src", "dist-extra"]),
    ],
)
def test_the_copy_sources_of_the_stage_built_and_what_it_needs(target, expected):
    assert dockerfile_copy_sources(MULTI_STAGE, target) == expected


def test_copy_sources_of_a_one_stage_file_and_their_forms():
    text = (
        "FROM node AS build\nCOPY package.json pnpm-lock.yaml ./\nCOPY --chown=node:node packages/q \\\n  ./packages/q\n"
        'ADD ["apps/a/src", "src"]\nADD https://example.com/x.tgz /x\nCOPY --from=build /out /app\n'
    )
    assert dockerfile_copy_sources(text) == ["package.json", "pnpm-lock.yaml", "packages/q", "apps/a/src"]
    assert dockerfile_copy_sources("FROM node\nCOPY --from=0 /a /b\n") == []
    assert dockerfile_copy_sources("") == []


SHARED = """\
ARG NODE=24
FROM node:${NODE} AS base
ARG SERVICE
ARG FLAVOUR=slim
ENV APP_DIR=services/${SERVICE}
COPY package.json ./
COPY ${APP_DIR}/package.json ./app/
COPY services/$SERVICE/dist ./dist
COPY config/${FLAVOUR:-full}.json config/${MISSING:-default}.json config/${FLAVOUR:+x}y.json ./
CMD node dist/main.js
"""


def test_copy_sources_expand_args_and_env_as_docker_does():
    """One Dockerfile for several workers, told apart by a build arg (seen adopting such a repository:
    both images got the same fingerprint, and neither covered its dist/)."""
    assert dockerfile_copy_sources(SHARED, None, {"SERVICE": "mailer"}) == [
        "package.json",
        "services/mailer/package.json",
        "services/mailer/dist",
        "config/slim.json",
        "config/default.json",
        "config/xy.json",
    ]
    # an arg nothing sets: a glob over every folder it could name (never fewer files than the build reads)
    assert dockerfile_copy_sources(SHARED)[1:3] == ["services/*/package.json", "services/*/dist"]


def test_the_fingerprint_of_each_worker_of_a_shared_dockerfile_covers_its_own_dist(tmp_path: Path) -> None:
    for name in ("mailer", "reports"):
        (tmp_path / "services" / name / "dist").mkdir(parents=True)
        (tmp_path / "services" / name / "dist" / "main.js").write_text(f"{name} 1\n")
    (tmp_path / "package.json").write_text('{"name": "root"}\n')
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "worker.Dockerfile").write_text(
        "FROM node\nARG SERVICE\nCOPY services/${SERVICE}/dist ./dist\n"
    )
    s = settings_for(tmp_path)

    def build(service: str) -> BuildInputs:
        return BuildInputs(tmp_path, tmp_path / "infra" / "worker.Dockerfile", None, (("SERVICE", service),))

    mailer, reports = source_fingerprint(s, build("mailer")), source_fingerprint(s, build("reports"))
    assert mailer != reports
    (tmp_path / "services" / "mailer" / "dist" / "main.js").write_text("mailer 2\n")
    assert source_fingerprint(s, build("mailer")) != mailer
    assert source_fingerprint(s, build("reports")) == reports


@pytest.mark.parametrize(
    "path, left_out",
    [
        ("dist/worker.js", True),  # dist
        ("dist", True),
        ("apps/api/dist/x.js", True),  # **/dist
        ("coverage/lcov.info", True),  # coverage/
        ("debug.log", True),  # *.log at the root only...
        ("logs/debug.log", False),  # ... not below it
        ("keep.log", False),  # !keep.log
        ("src/a.ts", False),
        ("src/a.test.ts", True),  # src/*.test.ts
        ("src/deep/a.test.ts", False),
        ("docs/x.md", True),  # /docs (leading slash dropped)
        ("README.md", False),
        ("notes/README.md", True),  # **/README.md ...
        ("notes/keep/README.md", False),  # ... but !notes/keep
        ("a1.txt", True),  # a?.txt
        ("ab.txt", True),  # a[a-c].txt
        ("add.txt", False),
    ],
)
def test_dockerignore_follows_dockers_rules(path, left_out):
    ignore = dockerignore(
        "# comment\n\ndist\n**/dist\ncoverage/\n*.log\n!keep.log\nsrc/*.test.ts\n/docs\n**/README.md\n"
        "!README.md\n!notes/keep\na?.txt\na[a-c].txt\n"
    )
    assert ignore(path) is left_out


def test_no_dockerignore_leaves_nothing_out():
    assert dockerignore(None)("anything/at/all") is False
    assert dockerignore("")("x") is False


def settings_for(root: Path) -> Settings:
    return Settings.from_config(Config(defaults=DEFAULTS, overrides={"app": {"build_mode": "image"}}), root=root)


def test_the_fingerprint_follows_the_target_and_the_ignore_file(tmp_path: Path) -> None:
    """A host build of dist/ that only the prod stage copies, or a change of an ignored file, does not
    make the dev image look stale (it used to rebuild and recreate the worker on the next worker.up)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "worker.ts").write_text("work()\n")
    (tmp_path / "package.json").write_text('{"name": "app"}\n')
    (tmp_path / "package-lock.json").write_text("{}\n")
    (tmp_path / "Dockerfile").write_text(MULTI_STAGE)
    (tmp_path / "dist-extra").mkdir()
    (tmp_path / "dist-extra" / "x.js").write_text("1\n")
    s = settings_for(tmp_path)
    dev = BuildInputs(tmp_path, tmp_path / "Dockerfile", "dev")
    prod = BuildInputs(tmp_path, tmp_path / "Dockerfile", None)
    before_dev, before_prod = source_fingerprint(s, dev), source_fingerprint(s, prod)
    (tmp_path / "dist-extra" / "x.js").write_text("2\n")
    assert source_fingerprint(s, dev) == before_dev
    assert source_fingerprint(s, prod) != before_prod

    (tmp_path / "Dockerfile").write_text("FROM node\nCOPY . .\n")
    (tmp_path / ".dockerignore").write_text("*.log\ntmp/\n")
    (tmp_path / "tmp").mkdir()
    everything = BuildInputs(tmp_path, tmp_path / "Dockerfile")
    before = source_fingerprint(s, everything)
    (tmp_path / "app.log").write_text("noise\n")
    (tmp_path / "tmp" / "scratch").write_text("noise\n")
    assert source_fingerprint(s, everything) == before
    (tmp_path / "config.json").write_text("{}\n")
    assert source_fingerprint(s, everything) != before
    # BuildKit's per-Dockerfile ignore file wins over the context's
    (tmp_path / "Dockerfile.dockerignore").write_text("config.json\n")
    assert everything.ignore_file() == tmp_path / "Dockerfile.dockerignore"
    with_own = source_fingerprint(s, everything)
    (tmp_path / "config.json").write_text('{"x": 1}\n')
    assert source_fingerprint(s, everything) == with_own


@pytest.mark.parametrize(
    "entrypoint, command, expected",
    [
        (None, ["/bin/sh", "-c", "node services/$SERVICE/dist/main.js"], "node services/$SERVICE/dist/main.js"),
        ([], ["sh", "-c", "npm start"], "npm start"),
        (["/bin/sh", "-c"], ["node x.js"], "node x.js"),  # ENTRYPOINT ["/bin/sh", "-c"] and the script as CMD
        (["/bin/sh", "-c", "node x.js"], None, "node x.js"),
        (None, ["/bin/sh", "-c", "exec node x.js"], None),  # the shell replaces itself
        (None, ["node", "dist/main.js"], None),  # exec form
        (["docker-entrypoint.sh"], ["/bin/sh", "-c", "node x.js"], None),  # an entrypoint script: not judged
        (None, None, None),
    ],
)
def test_a_shell_form_command_is_recognised(entrypoint, command, expected):
    from tasks.knowledge.build_context import shell_wrapped

    assert shell_wrapped(entrypoint, command) == expected


def test_named_copies_are_the_sources_that_name_the_file_itself():
    from tasks.knowledge.build_context import named_copies

    sources = [".env", "config/.env*", ".", "src", "package.json", "/app/.env.production"]
    assert named_copies(sources, ".env") == [".env", "config/.env*"]  # `COPY . .` needs no .env


def test_doctor_names_a_dockerfile_that_copies_a_missing_env(tmp_path, monkeypatch):
    """doctor said `.env: none (none needed)` while the image build failed on `COPY .env ./`. The
    build's inputs are Compose's (stack_facts.config_json, exercised by the integration tests); here
    they are given, the Dockerfile and the context are real files."""
    import importlib
    from types import SimpleNamespace

    from tasks.drivers import worker_service
    from tasks.knowledge.build_context import BuildInputs

    context = tmp_path / "apps" / "worker"
    context.mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM node:22\nWORKDIR /app\nCOPY package.json .env ./\nCMD node main.js\n")
    build = BuildInputs(context, context / "Dockerfile")
    monkeypatch.setattr(worker_service, "build_inputs", lambda compose: build)
    doctor = importlib.import_module("tasks.doctor")  # (`tasks.doctor` the attribute is the task)
    monkeypatch.setattr("tasks.drivers.compose.Compose", lambda w, require_env=False: SimpleNamespace())
    worker = SimpleNamespace(root=tmp_path)
    assert doctor._env_copied_by_builds([worker]) == "apps/worker/Dockerfile copies `.env` from apps/worker"
    (context / ".env").write_text("A=1\n")
    assert doctor._env_copied_by_builds([worker]) == ""
