"""Replay a trace of keys through a cache and count what happens."""

import collections

__all__ = ["SimResult", "replay"]

SimResult = collections.namedtuple("SimResult", "hits misses")
SimResult.hit_ratio = property(
    lambda self: self.hits / (self.hits + self.misses) if self.hits + self.misses else 0.0,
    doc="Hits as a fraction of all requests (0.0 for an empty trace).",
)
SimResult.__doc__ = "Counts from one replay; .hit_ratio is hits / requests."


def replay(cache, trace):
    """Request every key of `trace` from `cache`, storing it on a miss.

    Works with any mapping that has `get()`, so cachelab's, cachetools' and
    a plain OrderedDict recipe all replay the same way.
    """
    hits = 0
    get = cache.get
    missing = object()
    for key in trace.tolist() if hasattr(trace, "tolist") else trace:
        if get(key, missing) is missing:
            cache[key] = key
        else:
            hits += 1
    return SimResult(hits, len(trace) - hits)
