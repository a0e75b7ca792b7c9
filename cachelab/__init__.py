"""cachelab: caching, taught by running it.

The caches are drop-in replacements for cachetools' classes, with
`cache_info()`, eviction events and snapshots for drawing.
"""

from .caches import (
    Cache,
    CacheEvent,
    CacheInfo,
    FakeClock,
    FIFOCache,
    LFUCache,
    LRUCache,
    RRCache,
    TTLCache,
    cached,
    hashkey,
)

__version__ = "0.1.0"

__all__ = [
    "Cache",
    "CacheEvent",
    "CacheInfo",
    "FakeClock",
    "FIFOCache",
    "LFUCache",
    "LRUCache",
    "RRCache",
    "TTLCache",
    "cached",
    "hashkey",
]
