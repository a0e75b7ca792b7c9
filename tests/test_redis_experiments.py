"""The measurements behind notebook 09, on small inputs: their shape and their exact parts."""

from cachelab import LFUCache, LRUCache
from cachelab.lab.redis_experiments import (
    APPROX_SAMPLES, PRECOMPUTED, approx_run, approx_view, encoding_cost, format_network, latency_table,
    memory_per_key, network_table,
)
from cachelab.lab.simulation import replay
from cachelab.lab.workloads import zipf


def test_latency_table_times_every_kind_of_lookup(redis_url):
    rows = latency_table(redis_url, n=200, keys=100, batch=10, db_delay=0.001, db_reads=2)
    assert [r.name.split(" (")[0] for r in rows] == [
        "in-process hit", "Redis hit", "Redis hit, pipelined", "two-level", "SQLite read, no delay",
        "database miss"]
    assert all(0 < r.p50_us <= r.p99_us and r.per_second > 0 for r in rows)
    assert rows[-1].p50_us >= 1000  # the 1 ms delay is really waited


def test_memory_and_encoding_are_measured(redis_url):
    import redis

    with redis.Redis.from_url(redis_url) as client:
        memory = memory_per_key(client, n=500, prefix="test-memory:")
        assert not list(client.scan_iter(match="test-memory:*"))  # cleaned up
    assert memory["JSON bytes"] < memory["pickle bytes"]
    assert memory["server bytes per key"] > memory["JSON bytes"]  # Redis's own overhead on top
    assert set(encoding_cost(n=100)) >= {"json.dumps", "pickle.loads"}


def test_approx_run_compares_with_the_exact_policy_at_the_keys_held():
    trace = zipf(4000, 2000, 1.0, seed=1)
    for policy, exact in [("allkeys-lru", LRUCache), ("allkeys-lfu", LFUCache)]:
        run = approx_run(trace, policy, 5, room=200)
        assert 100 < run.keys_held < 600 and 0 < run.hits < len(trace)
        assert run.exact_hits == replay(exact(run.keys_held), trace.tolist(), progress=False).hits


def test_the_precomputed_table_has_every_policy_and_sample_count():
    assert sorted((r.policy, r.samples) for r in PRECOMPUTED) == sorted(
        (p, s) for p in ("allkeys-lru", "allkeys-lfu") for s in APPROX_SAMPLES)
    lru = {r.samples: r for r in PRECOMPUTED if r.policy == "allkeys-lru"}
    gap = {s: (r.exact_hits - r.hits) / r.exact_hits for s, r in lru.items()}
    assert gap[10] < gap[1]  # more samples, closer to exact LRU
    assert approx_view(10).count("\n") == 2  # a header and the two policies' rows


def test_network_table_puts_the_same_round_trip_in_front_of_both_stores(redis_url):
    rows = network_table(redis_url, rtts=(0.0004,), n=20, query=0.002, reads=3)
    loopback, networked = rows
    assert loopback.rtt_ms is None and loopback.added_us == 0
    assert networked.rtt_ms == 0.4
    # The proxy sleeps 0.2 ms each way, so the round trip it adds is at least the 0.4 ms asked for,
    # and the database behind that delay (plus a 2 ms query) waits at least as long.
    assert networked.added_us >= 400
    assert networked.query_us >= 2000 + networked.added_us
    table = format_network(rows, query_ms=2)
    assert "loopback (no proxy)" in table and "0.4 ms set" in table and "query/hit" in table
