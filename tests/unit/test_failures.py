"""Classifying Docker/Compose error texts into one actionable line."""

import pytest

from tasks.knowledge.failures import Failure, classify, explain


@pytest.mark.parametrize(
    "text",
    [
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
        "failed to connect to the docker API at unix:///tmp/x.sock; check if the path is correct",
        'error during connect: Get "http://%2F%2F.%2Fpipe%2Fdocker_engine/v1.47/info": open //./pipe/docker_engine: '
        "The system cannot find the file specified.",
    ],
)
def test_daemon_down_texts(text):
    assert classify(text) is Failure.DAEMON_DOWN
    assert "Docker daemon is not reachable" in explain(classify(text), text)


def test_permission_denied_wins_over_connect():
    text = (
        "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: "
        'Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.24/info": dial unix /var/run/docker.sock: connect: permission denied'
    )
    assert classify(text) is Failure.PERMISSION
    assert "docker` group" in explain(Failure.PERMISSION, text)


def test_unknown_service_names_it():
    line = explain(classify("no such service: wrker"), "no such service: wrker")
    assert "'wrker'" in line and "worker.service" in line


@pytest.mark.parametrize(
    "text, kind",
    [
        ('service "worker" has no container to start', Failure.NO_CONTAINER),
        ("no configuration file provided: not found", Failure.NO_COMPOSE_FILE),
        ("something else entirely", Failure.UNKNOWN),
        ("", Failure.UNKNOWN),
    ],
)
def test_other_kinds(text, kind):
    assert classify(text) is kind


def test_explanations_are_one_line():
    for failure in Failure:
        assert "\n" not in explain(failure, "a\nb", "unix:///x.sock")


def test_unknown_keeps_the_last_line_of_detail_where_compose_puts_its_error():
    detail = " Image redis:7-alpine Pulling \n Image redis:7-alpine Error pull access denied\nError response from daemon: no such image\n"
    assert explain(Failure.UNKNOWN, detail) == "Error response from daemon: no such image"
    assert explain(Failure.UNKNOWN, "") == "the command failed"
