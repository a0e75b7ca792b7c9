"""cachelab: caching, taught by running it.

The package has two halves.  The library, at the top and in
`cachelab.redis`, is what a learner may copy into production: caches and
eviction policies (drop-in replacements for cachetools' classes, with
`cache_info()` and eviction events), the caching patterns, the stampede
guards, and a shared cache in Redis.  `cachelab.lab` is the course's
apparatus: workloads, simulators, experiment runners, the seeded shop
database, and the views and widgets that draw them.  The library never
imports the apparatus; this module re-exports the names a notebook needs
most, so `from cachelab import LRUCache, SingleFlight, RedisCache` works.
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

)
from .memoize import cached, hashkey
from .lab.ecommerce import ECommerceService, run_performance_test
from .lab.experiments import hit_rate, hit_rate_table, lfu_steps, lru_steps, ttl_timeline
from .patterns import (
    CacheAside,
    ReadThrough,
    WriteAround,
    WriteBehind,
    WriteThrough,
    cache_aside,
    invalidate,
)
from .policies import ARCCache, ClockCache, S3FIFOCache, SieveCache, WTinyLFUCache, opt_hits
from .redis import (  # redis itself is imported on first use
    PubSubNearCache,
    RedisCache,
    TrackingNearCache,
    TwoLevelCache,
)
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
from .lab.store import Store

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
    "WTinyLFUCache",
    "opt_hits",
    # a shared cache in Redis (Valkey), and in-process caches in front of it
    "RedisCache",
    "TwoLevelCache",
    "PubSubNearCache",
    "TrackingNearCache",
    # stampede protection (cachelab.stampede; the simulator is cachelab.lab.stampede_sim)
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
