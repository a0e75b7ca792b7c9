"""The e-commerce demo's hit and miss latencies, and write-behind against write-through.

    python benchmarks/bench_patterns.py [--db-delay 0.05] [--repeat 5] [--writes 20000]

1. Demo latencies, in real time, in memory: each lookup of the guide's
   service misses once (a real SQLite query behind the database delay) and
   then hits; the median over `--repeat` services is reported with the
   speed-up (goal: at least 50x, against the guide's 20-50x).
2. Write-behind throughput: writes per second accepted by `WriteBehind`
   with its background flusher, against write-through and against the
   store's own write rate, all over the same real SQLite store with no delay.
3. Database writes saved by batching: round trips to the database for the
   same writes through write-through and through write-behind.
"""

import argparse
import statistics
import time

from cachelab import LRUCache, Store
from cachelab.lab.ecommerce import run_performance_test
from cachelab.patterns import WriteBehind, WriteThrough


def demo_latencies(db_delay, repeat):
    """Return {test: (median miss s, median hit s)} over `repeat` fresh services."""
    runs = [run_performance_test(db_delay=db_delay, verbose=False, out=None)[0] for _ in range(repeat)]
    return {name: (statistics.median(r["miss_time"] for run in runs for r in run if r["test"] == name),
                   statistics.median(r["hit_time"] for run in runs for r in run if r["test"] == name))
            for name in [r["test"] for r in runs[0]]}


def write_rates(n_writes, batch_size):
    """Return {name: (writes per second accepted, database writes)} for the same writes."""
    keys = [(f"k{i % 1000}", i) for i in range(n_writes)]
    out = {}
    with Store(delay=0) as store:
        cache = LRUCache(2000)
        wt = WriteThrough(cache, store.get, store.put)
        start = time.perf_counter()
        for key, value in keys:
            wt.write(key, value)
        out["write-through"] = (n_writes / (time.perf_counter() - start), store.stats().writes)
    with Store(delay=0) as store:
        wb = WriteBehind(LRUCache(2000), store.get, store.put_many, batch_size=batch_size,
                         maxsize=n_writes, flush_interval=0.05)
        start = time.perf_counter()
        for key, value in keys:
            wb.write(key, value)
        accepted = time.perf_counter() - start
        wb.close()
        drained = time.perf_counter() - start
        assert store.peek("k999") == keys[-1][1] and wb.stats().flushed == n_writes
        out["write-behind (accepted)"] = (n_writes / accepted, store.stats().writes)
        out["write-behind (in the DB)"] = (n_writes / drained, store.stats().writes)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db-delay", type=float, default=0.05)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--writes", type=int, default=20000)
    p.add_argument("--batch-size", type=int, default=100)
    args = p.parse_args(argv)

    print(f"Demo lookups, in memory, database delay {args.db_delay * 1000:.0f} ms "
          f"(median of {args.repeat} runs)")
    speedups = []
    for name, (miss, hit) in demo_latencies(args.db_delay, args.repeat).items():
        speedups.append(miss / hit)
        print(f"  {name:16} miss {miss * 1000:8.2f} ms   hit {hit * 1e6:7.1f} us   speed-up {miss / hit:9.0f}x")
    worst = min(speedups)
    print(f"  lowest speed-up {worst:.0f}x: {'meets' if worst >= 50 else 'MISSES'} the 50x goal "
          "(the guide promises 20-50x)")

    print(f"\n{args.writes} writes over 1000 keys, SQLite in memory, no delay, batches of {args.batch_size}")
    rates = write_rates(args.writes, args.batch_size)
    base = rates["write-through"][0]
    for name, (rate, db_writes) in rates.items():
        print(f"  {name:25} {rate:12,.0f} writes/s ({rate / base:5.1f}x write-through)   "
              f"{db_writes:6d} database writes")
    saved = rates["write-through"][1] / rates["write-behind (in the DB)"][1]
    print(f"  batching saved {rates['write-through'][1] - rates['write-behind (in the DB)'][1]} "
          f"database writes: {saved:.0f}x fewer round trips")


if __name__ == "__main__":
    main()
