"""Reading a cache's behaviour off a real Valkey server: INFO stats, prefixes, big keys, hot keys."""

import pytest

from cachelab.lab.observability import big_keys, hot_keys, keyspace_stats, replay_cache_aside
from cachelab.redis import RedisCache, redis_server


@pytest.fixture(scope="module")
def lfu_server():
    """A server of its own: hot keys need an LFU maxmemory-policy, and the stats start at zero."""
    with redis_server({"maxmemory": "64mb", "maxmemory-policy": "allkeys-lfu"}, embedded=True) as server:
        yield server


def test_replay_counts_hits_per_prefix_as_the_server_counts_them(lfu_server):
    client = lfu_server.client()
    client.flushall()
    client.config_resetstat()
    cache = RedisCache(lfu_server.url, prefix="t:", timeout=1.0)
    keys = [1, 2, 1, 3, 1, 2, 100, 100, 1]
    stats = replay_cache_aside(cache, keys, name_of=lambda k: f"{'big' if k >= 100 else 'small'}:{k}",
                               value_of=lambda k: "x" * k)
    assert {p: (s.hits, s.misses) for p, s in stats.items()} == {"big": (1, 1), "small": (4, 3)}
    assert stats["small"].hit_ratio == 4 / 7
    server = keyspace_stats(client)
    assert (server["keyspace_hits"], server["keyspace_misses"]) == (5, 4) and server["hit_ratio"] == 5 / 9
    assert big_keys(client, 1)[0][0] == "t:big:100"
    assert hot_keys(client, 1)[0][0] == "t:small:1"


def test_hot_keys_need_an_lfu_policy():
    with redis_server(embedded=True) as server:  # the default policy keeps no LFU counter
        with pytest.raises(ValueError, match="maxmemory-policy"):
            hot_keys(server.client())
