"""cachelab: caching, taught by running it.

The caches are drop-in replacements for cachetools' classes, with
`cache_info()`, eviction events and snapshots for drawing.
"""

from .caches import (
    MISSING,
    Cache,
    CacheLike,
    ExpiringCache,
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
from .ecommerce import ECommerceService, run_performance_test
from .experiments import hit_rate, hit_rate_table, lfu_steps, lru_steps, ttl_timeline
from .patterns import (
    CacheAside,
    ReadThrough,
    WriteAround,
    WriteBehind,
    WriteThrough,
    cache_aside,
    invalidate,
)
from .policies import ARCCache, ClockCache, S3FIFOCache, SieveCache, opt_hits
from .redis_cache import RedisCache, TwoLevelCache  # redis itself is imported on first use
from .stampede import (  # redis and asyncio are imported on first use
    AsyncSingleFlight,
    Jitter,
    RedisLock,
    RedisLockGuard,
    SingleFlight,
    StaleWhileRevalidate,
    XFetch,
    prewarm,
    top_keys,
)
from .store import Store

__version__ = "0.1.0"

__all__ = [
    "Cache",
    "CacheLike",
    "ExpiringCache",
    "MISSING",
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
    # patterns over a real database
    "CacheAside",
    "ECommerceService",
    "ReadThrough",
    "Store",
    "WriteAround",
    "WriteBehind",
    "WriteThrough",
    "cache_aside",
    "invalidate",
    "run_performance_test",
    # eviction policies beyond LRU and LFU
    "ARCCache",
    "ClockCache",
    "S3FIFOCache",
    "SieveCache",
    "opt_hits",
    # a shared cache in Redis (Valkey), and an in-process cache in front of it
    "RedisCache",
    "TwoLevelCache",
    # stampede protection (cachelab.stampede; the simulator is cachelab.stampede_sim)
    "AsyncSingleFlight",
    "Jitter",
    "RedisLock",
    "RedisLockGuard",
    "SingleFlight",
    "StaleWhileRevalidate",
    "XFetch",
    "prewarm",
    "top_keys",
    # the guide's four experiments, as data
    "hit_rate",
    "hit_rate_table",
    "lfu_steps",
    "lru_steps",
    "ttl_timeline",
]
