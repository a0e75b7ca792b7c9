"""Redis against in-process caching: lookups per second and p50/p99, and the demo over Redis.

    python benchmarks/bench_redis.py [--n 5000] [--batch 100] [--db-delay 0.05] [--repeat 3]

1. Hits, over the same Zipf(1.0) keys: an in-process LRUCache, a RedisCache
   GET per lookup, a RedisCache MGET of `--batch` keys (one round trip per
   batch; figures per key), and a two-level cache (an LRUCache of 10% of
   the keys in front of Redis).  Goal: pipelined at least 10x single.
2. Database reads: SQLite on its own, and behind the guide's 50 ms delay.
3. The guide's e-commerce demo with its caches in Redis: median miss and
   hit times over `--repeat` runs, and the speed-up.
4. Near caches that stay fresh, with a second process writing: a plain
   two-level cache (near TTL 1 s), invalidation over pub/sub, and CLIENT
   TRACKING (default and BCAST): near-hit p50/p99, staleness after the
   other process's write, stale reads per 10k at 1% writes, messages per
   write, a 1 s dropped connection, and tracking's memory on the server.
   Goals: a near hit within 2x of a plain LRUCache hit; staleness p99 under
   10 ms for the push schemes; no stale read once live again after a drop.

The server is an embedded Valkey on loopback (or CACHELAB_REDIS_URL's).
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from cachelab.lab.ecommerce import run_performance_test  # noqa: E402
from cachelab.redis import service_caches  # noqa: E402
from cachelab.lab.redis_experiments import format_latencies, latency_table  # noqa: E402
from cachelab.redis import redis_server  # noqa: E402
from cachelab.lab.near_experiments import near_tables  # noqa: E402


def demo_over_redis(url, db_delay, repeat):
    """Return {test: (median miss s, median hit s)} for the demo with its caches in Redis."""
    runs = []
    for i in range(repeat):
        caches = service_caches(url, f"cachelab-bench:{os.getpid()}:{i}:", fresh=True)
        runs.append(run_performance_test(db_delay=db_delay, verbose=False, out=None, cache=caches)[0])
        for cache in caches.made:
            cache.clear()
    names = [r["test"] for r in runs[0]]
    return {name: (statistics.median(r["miss_time"] for run in runs for r in run if r["test"] == name),
                   statistics.median(r["hit_time"] for run in runs for r in run if r["test"] == name))
            for name in names}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=5000, help="lookups per kind (default 5000)")
    p.add_argument("--batch", type=int, default=100, help="keys per MGET (default 100)")
    p.add_argument("--db-delay", type=float, default=0.05, help="database delay in s (default 0.05)")
    p.add_argument("--repeat", type=int, default=3, help="demo runs (default 3)")
    args = p.parse_args(argv)
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with redis_server() as server:
        rows = latency_table(server.url, n=args.n, batch=args.batch, db_delay=args.db_delay)
        print("\n1-2. Lookups (every cache lookup a hit)\n")
        print(format_latencies(rows))
        by = {r.name.split(" (")[0] if not r.name.startswith("Redis hit,") else "pipelined": r
              for r in rows}
        single, piped = by["Redis hit"], by["pipelined"]
        ratio = piped.per_second / single.per_second
        print(f"\npipelined / single Redis throughput: {ratio:.1f}x (goal >= 10x)")
        print(f"in-process / single Redis throughput: "
              f"{by['in-process hit'].per_second / single.per_second:.0f}x")
        print("\n3. The e-commerce demo with its caches in Redis\n")
        print(f"{'lookup':16} {'miss ms':>8} {'hit ms':>8} {'speed-up':>9}")
        for name, (miss, hit) in demo_over_redis(server.url, args.db_delay, args.repeat).items():
            print(f"{name:16} {miss * 1000:8.1f} {hit * 1000:8.3f} {miss / hit:8.0f}x")
        print("\n4. Near caches, a second process writing\n")
        print(near_tables(server.url))
    return 0 if ratio >= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
