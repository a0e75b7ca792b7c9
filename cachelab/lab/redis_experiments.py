"""Redis against an in-process cache, measured: the data behind notebook 09 and bench_redis.

Every function returns plain data (named tuples, dicts); the notebook and
the benchmark only print or draw it.  Wall-clock figures vary from run to
run and machine to machine; hit counts on a seeded trace do not, except
where Redis itself samples at random (its approximated LRU and LFU).
"""

import collections
import contextlib
import json
import pickle
import statistics
import time
import urllib.parse

from ..caches import LFUCache, LRUCache
from ..redis.cache import JSON, TwoLevelCache, RedisCache
from .proxy import TCPProxy
from .simulation import lru_hit_curve, replay
from .store import Store
from .workloads import zipf

__all__ = [
    "APPROX_SAMPLES",
    "ApproxRun",
    "LatencyRow",
    "NetworkRow",
    "PRECOMPUTED",
    "approx_lru_table",
    "approx_run",
    "approx_view",
    "encoding_cost",
    "format_approx",
    "format_latencies",
    "format_network",
    "latency_table",
    "memory_per_key",
    "network_table",
    "product",
]

LatencyRow = collections.namedtuple("LatencyRow", "name p50_us p99_us per_second")
LatencyRow.__doc__ = "One kind of lookup: median and 99th-percentile latency in µs, and lookups per second."

NetworkRow = collections.namedtuple("NetworkRow", "rtt_ms added_us redis_us read_us query_us")
NetworkRow.__doc__ = (
    "One simulated network between the application and both stores: the round trip asked for "
    "(ms; None for plain loopback), the round trip it added as measured (µs), and the p50 in µs "
    "of a Redis hit, an indexed SQLite read and a slow query, both databases behind that same "
    "measured round trip.")

ApproxRun = collections.namedtuple("ApproxRun", "policy samples hits keys_held exact_hits")
ApproxRun.__doc__ = (
    "One replay through a real server: its eviction policy and maxmemory-samples, its hits, "
    "the keys it held on average, and the exact policy's hits when holding that many keys.")

APPROX_SAMPLES = (1, 3, 5, 10)


def product(i=1):
    """A typical cached value: one of the guide's products, as the Store returns it."""
    return {"id": i, "name": f"Product {i}", "price": 999 + i, "category": "electronics"}


def _percentiles(seconds):
    ordered = sorted(seconds)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 * 1e6, p99 * 1e6


def _row(name, seconds, per_op=1):
    """A LatencyRow from per-call times; `per_op` lookups were made by each call."""
    p50, p99 = _percentiles([s / per_op for s in seconds])
    return LatencyRow(name, p50, p99, per_op * len(seconds) / sum(seconds))


def _time_each(func, args):
    clock = time.perf_counter
    out = []
    for arg in args:
        start = clock()
        func(arg)
        out.append(clock() - start)
    return out


def latency_table(url, *, n=2000, keys=1000, batch=100, db_delay=0.05, db_reads=10, seed=0):
    """Time hits in-process, in Redis (one GET, and MGET of `batch`), two-level, and database misses.

    Every lookup is a hit except the database rows: `db_reads` reads of
    the SQLite store behind `db_delay` seconds (the guide's ~50 ms), and the
    same reads with no delay, which is SQLite's own cost in this process.
    """
    names = [f"product:{i}" for i in range(keys)]
    trace = [names[k] for k in zipf(n, keys, 1.0, seed=seed).tolist()]
    values = {name: product(i) for i, name in enumerate(names)}
    local = LRUCache(keys)
    for name, value in values.items():
        local[name] = value
    remote = RedisCache(url, prefix=f"cachelab-latency:{seed}:", timeout=1.0)
    remote.set_many(values)
    two = TwoLevelCache(LRUCache(keys // 10), remote)
    batches = [trace[i:i + batch] for i in range(0, len(trace), batch)]
    rows = [
        _row("in-process hit (LRUCache)", _time_each(local.get, trace)),
        _row("Redis hit (GET)", _time_each(remote.get, trace)),
        _row(f"Redis hit, pipelined (MGET of {batch})", _time_each(remote.get_many, batches), batch),
        _row("two-level (LRUCache of 10% in front)", _time_each(two.get, trace)),
    ]
    assert remote.stats().misses == 0, "every Redis lookup should have been a hit"
    remote.clear()
    with Store(delay=0) as store:
        store.put_many(list(values.items())[:db_reads])
        rows.append(_row("SQLite read, no delay", _time_each(store.get, names[:db_reads] * 50)))
    with Store(delay=db_delay) as store:
        store.put_many(list(values.items())[:db_reads])
        rows.append(_row(f"database miss ({db_delay * 1000:g} ms delay)",
                         _time_each(store.get, names[:db_reads])))
    return rows


def format_latencies(rows):
    """Return LatencyRows as a plain-text table."""
    lines = [f"{'lookup':40} {'p50 µs':>9} {'p99 µs':>9} {'lookups/s':>11}"]
    lines += [f"{r.name:40} {r.p50_us:9.1f} {r.p99_us:9.1f} {r.per_second:11,.0f}" for r in rows]
    return "\n".join(lines)


def _p50(func, args):
    return statistics.median(_time_each(func, args)) * 1e6


def network_table(url, *, rtts=(0.0002, 0.0005, 0.001), n=300, query=0.05, reads=10):
    """Time a Redis hit and two database reads with a network round trip in front of both stores.

    The Redis server is reached through a TCPProxy that delays each direction
    by half of each round trip in `rtts` (seconds); the round trip it really
    adds (a PING through it, less a PING without it: the proxy's own work
    included) is then given to the database as a delay, so both stores sit
    behind the same network.  The database answers an indexed read (SQLite's
    own cost) and a `query`-second query (the guide's ~50 ms).  The first row
    is plain loopback, with no proxy and no delay.
    """
    import redis

    port = urllib.parse.urlsplit(url).port
    direct = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
    loopback = _p50(lambda _: direct.ping(), range(n))
    rows = []
    for rtt in (None, *rtts):
        proxy = TCPProxy(port, latency=rtt / 2) if rtt else None
        with proxy or contextlib.nullcontext():
            target = proxy.url() if proxy else url
            client = redis.Redis.from_url(target, socket_timeout=1, socket_connect_timeout=1)
            added = max(0.0, _p50(lambda _: client.ping(), range(n)) - loopback) if proxy else 0.0
            client.close()
            cache = RedisCache(target, prefix="cachelab-network:", timeout=1.0)
            cache["product:1"] = product(1)
            hit = _p50(cache.get, ["product:1"] * n)
            cache.clear()
        with Store(delay=added / 1e6) as store:
            store.put("product:1", product(1))
            read = _p50(store.get, ["product:1"] * max(reads, n // 10))
        with Store(delay=added / 1e6 + query) as store:
            store.put("product:1", product(1))
            slow = _p50(store.get, ["product:1"] * reads)
        rows.append(NetworkRow(rtt and rtt * 1000, added, hit, read, slow))
    direct.close()
    return rows


def format_network(rows, query_ms=50):
    """Return NetworkRows as a plain-text table with the two speed-ups of a Redis hit."""
    lines = [f"{'network round trip':30} {'Redis hit':>10} {'indexed read':>12} {f'{query_ms:g} ms query':>12}"
             f" {'query/hit':>9} {'read/hit':>8}"]
    for r in rows:
        name = "loopback (no proxy)" if r.rtt_ms is None else f"{r.rtt_ms:g} ms set, {r.added_us / 1000:.2f} ms added"
        lines.append(f"{name:30} {r.redis_us:7.0f} µs {r.read_us:9.0f} µs {r.query_us / 1000:9.1f} ms"
                     f" {r.query_us / r.redis_us:8.0f}x {r.read_us / r.redis_us:7.2f}x")
    return "\n".join(lines)


def memory_per_key(client, value=None, *, n=5000, prefix="cachelab-memory:"):
    """Return server memory per key for `n` copies of value, beside its encoded sizes.

    Measured as the growth of the server's `used_memory` while `n` keys are
    written, so it includes Redis's own per-key overhead; the keys are
    deleted afterwards.
    """
    value = product() if value is None else value
    cache = RedisCache(client, prefix=prefix)
    cache.clear()
    before = client.info("memory")["used_memory"]
    for start in range(0, n, 500):
        cache.set_many({f"{i}": value for i in range(start, min(n, start + 500))})
    grown = client.info("memory")["used_memory"] - before
    sample = client.memory_usage(cache._name("0"))
    cache.clear()
    return {"server bytes per key": grown / n, "MEMORY USAGE of one key": sample,
            "JSON bytes": len(JSON.dumps(value)), "pickle bytes": len(pickle.dumps(value)),
            "Python object bytes (sys.getsizeof, shallow)": value.__sizeof__()}


def encoding_cost(value=None, *, n=20_000):
    """Return µs per call to encode and decode value: cachelab's JSON codec, plain json, pickle."""
    value = product() if value is None else value
    data_json, data_pickle = JSON.dumps(value), pickle.dumps(value)

    def per_call(func, arg):
        start = time.perf_counter()
        for _ in range(n):
            func(arg)
        return (time.perf_counter() - start) / n * 1e6

    return {"JSON codec encode (with round-trip check)": per_call(JSON.dumps, value),
            "json.dumps": per_call(json.dumps, value),
            "JSON decode": per_call(JSON.loads, data_json),
            "pickle.dumps": per_call(pickle.dumps, value),
            "pickle.loads": per_call(pickle.loads, data_pickle)}


# -- Redis's approximated LRU and LFU against exact ones

_VALUE = "x" * 100  # a larger value makes a key's memory steadier, so keys held is steadier too


def approx_run(trace, policy, samples, *, room=2000, batch=50, rate=None, progress=None):
    """Replay `trace` through a fresh server with maxmemory sized for about `room` keys.

    Each request is one `SET key value NX GET`: it returns the old value on
    a hit (and touches the key, as a GET does) and stores the key on a miss,
    so the whole replay can be pipelined.  Keys held is the mean DBSIZE over
    the second half of the run; the exact policy (cachelab's LRUCache or
    LFUCache) is then replayed holding that many keys.
    """
    from ..redis.servers import redis_server

    keys = [f"k{k}" for k in (trace.tolist() if hasattr(trace, "tolist") else trace)]
    with redis_server(embedded=True, **{"maxmemory-policy": policy,
                                        "maxmemory-samples": samples}) as server:
        client = server.client()
        # Calibrate: the memory `room` keys take on this server, above what it uses empty.
        empty = client.info("memory")["used_memory"]
        pipe = client.pipeline(transaction=False)
        for i in range(room):
            pipe.set(f"k{10_000_000 + i}", _VALUE)  # keys shaped like the trace's, values alike
        pipe.execute()
        per_key = (client.info("memory")["used_memory"] - empty) / room
        client.execute_command("FLUSHALL", "SYNC")  # an async flush would free memory later
        client.config_set("maxmemory", int(client.info("memory")["used_memory"] + room * per_key))
        hits, held = 0, []
        began = time.perf_counter()
        for start in range(0, len(keys), batch):
            if rate:  # Redis's LRU clock ticks once a second: pace the requests as real traffic
                ahead = start / rate - (time.perf_counter() - began)
                if ahead > 0:
                    time.sleep(ahead)
            pipe = client.pipeline(transaction=False)
            for key in keys[start:start + batch]:
                pipe.set(key, _VALUE, nx=True, get=True)
            # A reply may be an OOM error when eviction cannot keep up: a miss that stored nothing.
            hits += sum(reply is not None and not isinstance(reply, Exception)
                        for reply in pipe.execute(raise_on_error=False))
            if start >= len(keys) // 2 and start % (batch * 20) == 0:
                held.append(client.dbsize())
            if progress is not None:
                progress.update(len(keys[start:start + batch]))
        client.close()
    keys_held = round(statistics.mean(held))
    if policy.endswith("lru"):
        exact = int(lru_hit_curve(keys, sizes=[keys_held]).hits[0])
    else:
        exact = replay(LFUCache(keys_held), keys, progress=False).hits
    return ApproxRun(policy, samples, hits, keys_held, exact)


def approx_lru_table(trace=None, *, room=2000, samples=APPROX_SAMPLES,
                     policies=("allkeys-lru", "allkeys-lfu"), rate=None, progress=True):
    """Run approx_run for every policy and sample count; a tqdm bar shows progress."""
    trace = zipf(100_000, 20_000, 1.0, seed=0) if trace is None else trace
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(trace) * len(samples) * len(policies), desc="replaying", unit="req")
    try:
        return [approx_run(trace, policy, s, room=room, rate=rate, progress=bar)
                for policy in policies for s in samples]
    finally:
        if bar is not None:
            bar.close()


def format_approx(runs, total=100_000):
    """Return ApproxRuns as a plain-text table."""
    lines = [f"{'policy':12} {'samples':>7} {'keys held':>9} {'Redis hits':>10} "
             f"{'exact hits':>10} {'gap':>7}"]
    for r in runs:
        lines.append(f"{r.policy:12} {r.samples:7d} {r.keys_held:9,d} {r.hits:10,d} "
                     f"{r.exact_hits:10,d} {100 * (r.hits - r.exact_hits) / total:+6.1f}%")
    return "\n".join(lines)


def approx_view(samples, runs=None):
    """The table's rows for one sample count (the slider's view): PRECOMPUTED unless runs are given."""
    runs = PRECOMPUTED if runs is None else runs
    return format_approx([r for r in runs if r.samples == samples])


# Measured with approx_lru_table(rate=5000) on 100,000 Zipf(1.0) requests over
# 20,000 keys (seed 0), maxmemory calibrated for about 2,000 keys, Valkey 9.1.2;
# regenerate with `python -m cachelab.lab.redis_experiments` (about three minutes).
# Redis samples at random, so a rerun differs by a few hundred hits.
PRECOMPUTED = [ApproxRun(*run) for run in [
    ("allkeys-lru", 1, 68185, 2508, 72000), ("allkeys-lru", 3, 70127, 2326, 71136),
    ("allkeys-lru", 5, 71844, 2539, 72133), ("allkeys-lru", 10, 72184, 2554, 72195),
    ("allkeys-lfu", 1, 67822, 2505, 75324), ("allkeys-lfu", 3, 74754, 2558, 75489),
    ("allkeys-lfu", 5, 75246, 2560, 75497), ("allkeys-lfu", 10, 75415, 2540, 75422),
]]


if __name__ == "__main__":
    import sys

    rate = float(sys.argv[1]) if len(sys.argv) > 1 else 5000
    print(repr([tuple(r) for r in approx_lru_table(rate=rate, progress=False)]))
