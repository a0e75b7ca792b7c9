"""Replay one seeded Zipf trace through cachelab, cachetools and the stdlib, in one process.

    python benchmarks/bench_caches.py [--requests 1000000] [--repeat 3]

Every implementation sees the same 1,000,000 requests over 100,000 keys
(Zipf alpha=1.0) with room for 10,000 entries, and stores the key on a
miss.  It prints requests per second, the ratio to cachetools' class of
the same policy, and the hit count, which must agree within a policy.
"""

import argparse
import collections
import functools
import sys
import time

import cachetools

import cachelab
from cachelab.lab.simulation import replay
from cachelab.lab.workloads import zipf


class OrderedDictLRU(collections.OrderedDict):
    """The collections-docs recipe, with a get() that refreshes recency."""

    def __init__(self, maxsize):
        super().__init__()
        self.maxsize = maxsize

    def get(self, key, default=None):
        if key not in self:
            return default
        self.move_to_end(key)
        return self[key]

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.maxsize:
            self.popitem(last=False)


def replay_mapping(cache, keys):
    """Hits of one replay through get() and cache[key] = key, the same for every implementation."""
    return replay(cache, keys, progress=False, hooks=False).hits


def replay_lru_cache(maxsize, keys):
    @functools.lru_cache(maxsize=maxsize)
    def lookup(key):
        return key

    for key in keys:
        lookup(key)
    return lookup.cache_info().hits


def contenders(maxsize, ttl):
    """(policy, name, run(keys) -> hits) for every implementation."""
    for policy in ["LRU", "LFU", "FIFO", "TTL"]:
        for module in (cachetools, cachelab):
            cls = getattr(module, f"{policy}Cache")
            make = (lambda cls=cls: cls(maxsize, ttl=ttl)) if policy == "TTL" else (lambda cls=cls: cls(maxsize))
            yield policy, f"{module.__name__}.{cls.__name__}", lambda keys, make=make: replay_mapping(make(), keys)
    yield "LRU", "functools.lru_cache", lambda keys: replay_lru_cache(maxsize, keys)
    yield "LRU", "OrderedDict recipe", lambda keys: replay_mapping(OrderedDictLRU(maxsize), keys)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--maxsize", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs, interleaved")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)

    keys = zipf(args.requests, args.keys, alpha=1.0, seed=args.seed).tolist()
    # A TTL far beyond the run, so TTLCache behaves as the LRU it is built on.
    runs = list(contenders(args.maxsize, ttl=1e9))
    best = {name: float("inf") for _, name, _ in runs}
    hits = {}
    for round_ in range(args.repeat):
        for _policy, name, run in runs:
            start = time.perf_counter()
            hits[name] = run(keys)
            best[name] = min(best[name], time.perf_counter() - start)
        print(f"round {round_ + 1}/{args.repeat} done", file=sys.stderr)

    print(f"{args.requests:,} requests, Zipf(1.0) over {args.keys:,} keys, maxsize {args.maxsize:,}; "
          f"best of {args.repeat}")
    print(f"{'policy':6} {'implementation':28} {'req/s':>12} {'vs cachetools':>14} {'hits':>9}")
    ok = True
    for policy, name, _ in runs:
        peer = f"cachetools.{policy}Cache"
        rate = args.requests / best[name]
        ratio = best[peer] / best[name]
        same = hits[name] == hits[peer]
        ok &= same
        print(f"{policy:6} {name:28} {rate:12,.0f} {ratio:13.2f}x {hits[name]:9,}{'' if same else '  MISMATCH'}")
    if not ok:
        print("hit counts differ within a policy", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
