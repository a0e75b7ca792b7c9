"""LRU hit curves three ways, and the new policies' replay speed, on one trace in one process.

    python benchmarks/bench_policies.py [--quick] [--requests 1000000] [--keys 100000]

On 1,000,000 Zipf(1.0) requests over 100,000 keys it times:

1. cachelab's one-pass LRU curve (stack distances), which gives every size;
2. libCacheSim's C LRU run separately at 50 sizes, 1%-50% of the distinct
   keys (hashpower=20, reading an oracleGeneral binary trace written to a
   temporary directory);
3. cachelab's LRUCache replayed at the same 50 sizes.  This is slow;
   `--quick` replays only 5 of the sizes and extrapolates the time to 50,
   and the output says so.

The hit counts must be identical at every size that ran (exit status 1
otherwise).  Then it replays each new policy once, at 10% of the distinct
keys, and prints requests per second and the ratio to cachelab's LRU.
The policies come from the registry, so a new one is timed too.
"""

import argparse
import os
import sys
import tempfile
import time

# libcachesim writes a hub cache under ~/.cache on import; keep it out of HOME.
os.environ.setdefault("LCS_HUB_CACHE", tempfile.mkdtemp(prefix="cachelab-lcs-"))

import libcachesim as lcs  # noqa: E402
import numpy as np  # noqa: E402

from cachelab import LRUCache, opt_hits  # noqa: E402
from cachelab.policies import CLASSIC_POLICIES, POLICIES, new_cache  # noqa: E402
from cachelab.lab.simulation import lru_hit_curve, replay  # noqa: E402
from cachelab.lab.workloads import write_oracle_general, zipf  # noqa: E402

TARGET = 5.0  # the one-pass curve should beat libCacheSim's 50 runs by this much


def libcachesim_lru_hits(path, size, n_requests):
    reader = lcs.TraceReader(path, trace_type=lcs.TraceType.ORACLE_GENERAL_TRACE,
                             reader_init_params=lcs.ReaderInitParam(ignore_obj_size=True))
    miss_ratio, _ = lcs.LRU(int(size), hashpower=20).process_trace(reader)
    return round((1 - miss_ratio) * n_requests)


def timed(run):
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--quick", action="store_true",
                        help="replay cachelab's LRU at 5 of the 50 sizes and extrapolate")
    args = parser.parse_args(argv)

    trace = zipf(args.requests, args.keys, alpha=1.0, seed=args.seed)
    n = len(trace)
    distinct = len(np.unique(trace))
    sizes = np.unique(np.round(np.linspace(0.01, 0.5, 50) * distinct).astype(np.int64))
    folder = tempfile.mkdtemp(prefix="cachelab-bench-")
    path = str(write_oracle_general(trace, os.path.join(folder, "zipf.oracleGeneral.bin")))
    print(f"{n:,} requests, Zipf(1.0) over {args.keys:,} keys ({distinct:,} distinct); "
          f"{len(sizes)} LRU sizes from {sizes[0]:,} to {sizes[-1]:,}")

    curve, t_curve = timed(lambda: lru_hit_curve(trace))
    one_pass = curve.hits[sizes]
    print(f"  cachelab one-pass curve (all {len(curve.sizes):,} sizes): {t_curve:8.2f} s", flush=True)

    theirs, t_lcs = timed(lambda: [libcachesim_lru_hits(path, s, n) for s in sizes])
    print(f"  libCacheSim LRU, {len(sizes)} runs:                  {t_lcs:8.2f} s", flush=True)

    replayed = sizes[np.linspace(0, len(sizes) - 1, 5).round().astype(int)] if args.quick else sizes
    ours, t_ours = timed(lambda: [replay(LRUCache(int(s)), trace, progress=False).hits for s in replayed])
    t_ours_50 = t_ours * len(sizes) / len(replayed)
    note = (f"  (--quick: {len(replayed)} sizes took {t_ours:.2f} s, extrapolated)"
            if args.quick else "")
    print(f"  cachelab LRUCache replay, {len(sizes)} runs:         {t_ours_50:8.2f} s{note}")

    ok = list(one_pass) == theirs
    ok &= list(curve.hits[replayed]) == ours
    speedup = t_lcs / t_curve
    print(f"\none-pass curve vs libCacheSim's {len(sizes)} runs: {speedup:.1f}x faster "
          f"(target >= {TARGET:g}x: {'met' if speedup >= TARGET else 'NOT met'})")
    print(f"one-pass curve vs cachelab's {len(sizes)} replays: {t_ours_50 / t_curve:.0f}x faster")
    print(f"hit counts: {'identical' if ok else 'MISMATCH'} at all {len(sizes)} sizes "
          f"(libCacheSim) and {len(replayed)} sizes (cachelab replay)")

    size = int(round(0.1 * distinct))
    print(f"\nreplay throughput at maxsize {size:,} (10% of the distinct keys):")
    print(f"{'policy':10} {'req/s':>12} {'vs LRU':>8} {'hit ratio':>10}")
    base = None
    # LRU, then every registered policy beyond the classic ones, then OPT.
    names = ["LRU", *(name for name in POLICIES if name not in CLASSIC_POLICIES), "OPT"]
    for name in names:
        if name == "OPT":
            hits, seconds = timed(lambda: opt_hits(trace, size))
        else:
            hits, seconds = timed(lambda: replay(new_cache(name, size), trace, progress=False).hits)
        base = base or seconds
        print(f"{name:10} {n / seconds:12,.0f} {base / seconds:7.2f}x {hits / n:10.4f}")
    print("(OPT is offline: it reads the whole trace first, so it is no cache to deploy)")
    if not ok:
        print("hit counts differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
