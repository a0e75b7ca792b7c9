"""What a running Redis tells you about its cache: hit ratio, hit ratio per key prefix, big and hot keys.

Redis counts hits and misses for the whole server (`INFO stats`), not per
key family; a hit ratio per prefix is counted by the client, here while
a trace is replayed cache-aside.  Big keys come from `MEMORY USAGE` over
a SCAN (what `redis-cli --bigkeys --memkeys` does), hot keys from
`OBJECT FREQ`, which only an LFU `maxmemory-policy` keeps (what
`redis-cli --hotkeys` does).
"""

import collections
import heapq

__all__ = ["PrefixStats", "big_keys", "hot_keys", "keyspace_stats", "replay_cache_aside"]

PrefixStats = collections.namedtuple("PrefixStats", "prefix hits misses")
PrefixStats.hit_ratio = property(lambda self: self.hits / (self.hits + self.misses)
                                 if self.hits + self.misses else 0.0,
                                 doc="Hits as a fraction of this prefix's requests.")
PrefixStats.__doc__ = "Requests for the keys under one prefix, counted by the client."


def replay_cache_aside(cache, keys, *, name_of, value_of):
    """Request each key through `cache` (get, and set on a miss); return {prefix: PrefixStats}.

    `name_of(key)` gives the cache key, whose part up to the first ':' is
    its prefix; `value_of(key)` the value stored on a miss.
    """
    counts = collections.defaultdict(lambda: [0, 0])
    missing = object()
    for key in keys:
        name = name_of(key)
        found = cache.get(name, missing) is not missing
        counts[name.split(":", 1)[0]][0 if found else 1] += 1
        if not found:
            cache.set(name, value_of(key))
    return {prefix: PrefixStats(prefix, hits, misses) for prefix, (hits, misses) in sorted(counts.items())}


def keyspace_stats(client):
    """Return the server's keyspace_hits, keyspace_misses, evicted_keys and their hit ratio (INFO stats)."""
    stats = client.info("stats")
    hits, misses = stats["keyspace_hits"], stats["keyspace_misses"]
    return {"keyspace_hits": hits, "keyspace_misses": misses, "evicted_keys": stats["evicted_keys"],
            "hit_ratio": hits / (hits + misses) if hits + misses else 0.0}


def _scan(client, match, count=1000):
    return client.scan_iter(match=match, count=count)


def big_keys(client, n=5, *, match="*"):
    """Return the n keys that take the most memory, [(key, bytes)], largest first (MEMORY USAGE)."""
    sized = ((name.decode() if isinstance(name, bytes) else name, client.memory_usage(name, samples=0))
             for name in _scan(client, match))
    return heapq.nlargest(n, ((name, size) for name, size in sized if size is not None),
                          key=lambda pair: pair[1])


def hot_keys(client, n=5, *, match="*"):
    """Return the n most frequently used keys, [(key, LFU counter)], hottest first (OBJECT FREQ).

    The counter is Redis's logarithmic LFU counter (0-255, decaying over
    time), so only an LFU maxmemory-policy keeps it; otherwise Redis
    refuses, and so does this, naming the setting to change.
    """
    policy = client.config_get("maxmemory-policy")["maxmemory-policy"]
    if "lfu" not in policy:
        raise ValueError(f"hot keys need an LFU maxmemory-policy (allkeys-lfu or volatile-lfu); "
                         f"the server's is {policy!r}")
    freqs = ((name.decode() if isinstance(name, bytes) else name, client.execute_command("OBJECT", "FREQ", name))
             for name in _scan(client, match))
    # A key SCAN returned may be evicted before it is asked about: then Redis answers nil.
    return heapq.nlargest(n, ((name, freq) for name, freq in freqs if freq is not None),
                          key=lambda pair: pair[1])
