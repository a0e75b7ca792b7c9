"""RedisCache over a real three-node Valkey cluster: keys spread, hash tags, and losing a node.

The time bound: with `RedisCluster.client()`'s settings (one attempt, short
socket and connect timeouts, no full-coverage requirement) every request,
even one sent to a dead or hung node, returns within BOUND seconds.  Here
the timeouts are 0.25 s, so a hung node costs a request at most about two
of them (its own read, then re-reading the layout); the bound is well
above that so that a loaded CI machine does not trip it.  What it catches
is redis-py's default of retrying and refreshing for minutes.
"""

import collections
import os
import signal
import time

import pytest

from cachelab.patterns import CacheAside
from cachelab.redis import RedisCache
from cachelab.redis import redis_cluster
from cachelab.lab.store import Store

BOUND = 2.0  # seconds per request, whatever happens to one node
KEYS = [f"product:{i}" for i in range(300)]


@pytest.fixture
def cluster():
    with redis_cluster(3) as started:
        yield started


def _node_of(client, cache, key):
    return client.nodes_manager.get_node_from_slot(client.keyslot(cache._name(key))).port


def _timed(func, *args):
    start = time.perf_counter()
    result = func(*args)
    return result, time.perf_counter() - start


def test_keys_spread_over_the_nodes_and_hash_tags_keep_related_keys_together(cluster):
    client = cluster.client(timeout=0.25)
    cache = RedisCache(client, prefix="shop:")
    cache.set_many({key: {"id": key} for key in KEYS})
    assert len(cache) == len(KEYS) and cache.get_many(KEYS[:3]) == [{"id": k} for k in KEYS[:3]]
    spread = collections.Counter(_node_of(client, cache, key) for key in KEYS)
    assert sorted(spread) == sorted(node.port for node in cluster.nodes)
    assert min(spread.values()) > len(KEYS) / 5  # about a third each
    # The server's CLUSTER KEYSLOT agrees with the client's, and a hash tag pins the slot.
    tagged = ["shop:{user:42}:profile", "shop:{user:42}:orders", "shop:{user:42}:cart"]
    slots = {client.cluster_keyslot(name) for name in tagged}
    assert len(slots) == 1 and slots == {client.keyslot("user:42")}
    cache.clear()
    assert len(cache) == 0


@pytest.mark.parametrize("how", ["stopped", "hung"])
def test_losing_a_node_fails_open_within_the_bound_and_the_others_keep_hitting(cluster, how):
    client = cluster.client(timeout=0.25)  # generous: a busy CI machine is not an outage
    cache = RedisCache(client, prefix="shop:", backoff=60)
    lost = cluster.nodes[0]
    with Store(delay=0) as store:
        store.put_many([(key, {"id": key}) for key in KEYS])
        aside = CacheAside(cache, store.get)
        for key in KEYS:
            aside.read(key)
        on_lost = {key for key in KEYS if _node_of(client, cache, key) == lost.port}
        if how == "stopped":
            lost.stop()
        else:
            os.kill(lost.pid, signal.SIGSTOP)
        try:
            hits = cache.stats().hits
            slowest = 0.0
            for key in KEYS:
                value, took = _timed(aside.read, key)
                assert value == {"id": key}  # right, from the cache or the database
                slowest = max(slowest, took)
            assert slowest < BOUND
            s = cache.stats()
            assert s.hits - hits == len(KEYS) - len(on_lost)  # the other nodes still serve hits
            assert s.outages == 1 and not cache.available  # one outage, for the lost node only
        finally:
            if how == "hung":
                os.kill(lost.pid, signal.SIGCONT)
            left = cache.close()
    # The writes the lost node missed are deleted once it answers again, or, if it never does,
    # named at close() as left stale (and logged), never dropped silently.
    assert set(left) == (on_lost if how == "stopped" else set())
