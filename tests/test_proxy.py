"""The fault proxy on a real Valkey: it forwards, delays, refuses, swallows and cuts."""

import pytest
import redis

from cachelab.lab.proxy import TCPProxy


def client(proxy, timeout=0.3):
    return redis.Redis(port=proxy.port, socket_timeout=timeout, socket_connect_timeout=timeout,
                       retry=None)


@pytest.fixture
def port(redis_url):
    return int(redis_url.rsplit(":", 1)[1].split("/")[0])


def test_forwards_both_ways(port):
    with TCPProxy(port) as proxy:
        c = client(proxy)
        c.set("proxy:k", "v")
        assert c.get("proxy:k") == b"v"
        assert proxy.connections == 1
        assert "mode='pass'" in repr(proxy)


def test_swallow_times_out_and_pass_resumes(port):
    with TCPProxy(port) as proxy:
        c = client(proxy)
        assert c.ping()
        with proxy.faulted("swallow"):
            with pytest.raises(redis.TimeoutError):
                c.get("proxy:k")
            assert proxy.dropped_bytes > 0
        assert proxy.mode == "pass"
        c.connection_pool.disconnect()  # the timed-out connection holds a half-read reply
        assert c.ping()


def test_refuse_resets_open_and_new_connections(port):
    with TCPProxy(port) as proxy:
        c = client(proxy)
        assert c.ping()
        proxy.mode = "refuse"
        with pytest.raises(redis.ConnectionError):
            c.ping()
        proxy.mode = "pass"
        assert c.ping()


def test_cut_drops_open_connections_once(port):
    with TCPProxy(port) as proxy:
        c = client(proxy)
        assert c.ping()
        assert proxy.cut() == 1
        with pytest.raises(redis.ConnectionError):
            c.ping()
        assert c.ping()  # a new connection goes through


def test_latency_is_added_to_each_chunk(port):
    with TCPProxy(port, latency=0.05) as proxy:
        assert proxy.latency == 0.05
        assert client(proxy, timeout=0.02).connection_pool  # built lazily
        with pytest.raises(redis.TimeoutError):
            client(proxy, timeout=0.02).ping()  # 2 x 50 ms of latency > a 20 ms timeout
        assert client(proxy, timeout=1).ping()


@pytest.mark.parametrize("kwargs, error, word", [
    (dict(upstream=("10.0.0.1", 6379)), ValueError, "loopback"),
    (dict(upstream=70000), ValueError, "upstream port"),
    (dict(upstream=6379, latency=-1), ValueError, "latency"),
])
def test_bad_arguments_name_the_parameter(kwargs, error, word):
    with pytest.raises(error, match=word):
        TCPProxy(**kwargs)


def test_bad_mode_names_the_parameter(port):
    with TCPProxy(port) as proxy, pytest.raises(ValueError, match="mode"):
        proxy.mode = "drop"
