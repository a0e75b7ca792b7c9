"""Should I cache this?  Four questions, each answered by measuring the workload.

1. Read/write ratio: a value written as often as it is read is mostly
   thrown away before anyone reads it twice.
2. Cost of a miss: caching saves (miss cost - hit cost) per hit; a cheap
   query is not worth a copy that can go stale.
3. Tolerance for staleness: if no staleness is acceptable, a TTL alone is
   not enough; you need invalidation (and, with races, versions or leases).
4. Working set against the memory budget: the hit ratio an LRU cache of the
   budget's size actually reaches on this trace.

The verdict weighs the hit ratio by what a hit saves: a 15% hit ratio on a
120 ms query saves 18 ms per read, worth a cache; a 90% hit ratio on a
0.5 ms query is not.
"""

import collections

from .._checks import check_int, check_seconds
from ..caches import MISSING, LRUCache

__all__ = ["Assessment", "assess", "format_assessments"]

Assessment = collections.namedtuple(
    "Assessment",
    "workload reads_per_write miss_ms working_set_keys hit_ratio saved_ms_per_read "
    "staleness_s verdict reasons")
Assessment.__doc__ = "The checklist's measurements for one workload, and what they add up to."

_HIT_MS = 0.2  # a cache hit over the network (Redis on a LAN); in-process is far less
_WORTH_MS = 1.0  # a cache that saves less than this per read is not worth a copy that can go stale


def assess(name, ops, *, miss_ms, staleness_s, budget_keys, hit_ms=_HIT_MS):
    """Measure the four questions on `ops` (("read"|"write", key) pairs) and give a verdict.

    The hit ratio is measured by running the reads through an LRU cache of
    `budget_keys` entries, with each write dropping the cached copy.
    `staleness_s` is how old a value the application may show (0: none).
    """
    check_seconds("miss_ms", miss_ms, unit="milliseconds")
    check_seconds("hit_ms", hit_ms, finite=True, unit="milliseconds")
    check_seconds("staleness_s", staleness_s)
    cache = LRUCache(check_int("budget_keys", budget_keys, 1))
    reads = writes = hits = 0
    keys = set()
    for i, pair in enumerate(ops):
        op, key = _operation(i, pair)
        keys.add(key)
        if op == "write":
            writes += 1
            cache.pop(key, None)
            continue
        reads += 1
        if cache.get(key, MISSING) is MISSING:
            cache[key] = True
        else:
            hits += 1
    ratio = reads / writes if writes else float("inf")
    hit_ratio = hits / reads if reads else 0.0
    saved = hit_ratio * (miss_ms - hit_ms)
    reasons = []
    if ratio < 2:
        reasons.append(f"only {ratio:.1f} reads per write")
    if miss_ms < 10 * hit_ms:
        reasons.append(f"a miss costs {miss_ms:g} ms, hardly more than a hit")
    if saved < _WORTH_MS:
        reasons.append(f"hit ratio {hit_ratio:.0%} with {budget_keys} keys of "
                       f"{len(keys)} in the working set saves only {saved:.1f} ms per read")
    if reasons:
        verdict = "don't cache"
    elif staleness_s == 0:
        verdict = "cache, with invalidation on write (versions or leases against races)"
        reasons.append("no staleness allowed: a TTL alone is not enough")
    else:
        verdict = f"cache-aside with a TTL of at most {staleness_s:g} s"
        reasons.append(f"hit ratio {hit_ratio:.0%} saves {saved:.1f} ms per read")
    return Assessment(name, round(ratio, 2), miss_ms, len(keys), round(hit_ratio, 4),
                      round(saved, 3), staleness_s, verdict, "; ".join(reasons))


def _operation(i, pair):
    """Return ("read" | "write", key), or raise naming `ops` and the position at fault."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2 or pair[0] not in ("read", "write"):
        raise ValueError(f"ops must be (\"read\" | \"write\", key) pairs, such as read_write_workload() "
                         f"returns; operation {i} is {pair!r}")
    return pair


def format_assessments(rows):
    """Return Assessments as a plain-text table, then one verdict line each."""
    lines = [f"{'workload':16} {'reads/write':>11} {'miss ms':>8} {'keys':>7} {'hit ratio':>9} "
             f"{'saved ms/read':>13} {'stale ok':>9}"]
    for r in rows:
        lines.append(f"{r.workload:16} {r.reads_per_write:11.1f} {r.miss_ms:8g} {r.working_set_keys:7d} "
                     f"{r.hit_ratio:9.1%} {r.saved_ms_per_read:13.1f} {r.staleness_s:8g}s")
    lines.append("")
    lines += [f"{r.workload}: {r.verdict} ({r.reasons})" for r in rows]
    return "\n".join(lines)
