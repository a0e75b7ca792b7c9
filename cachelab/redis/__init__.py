"""A shared cache in Redis (Valkey), and the servers it runs on.

* `cache`: `RedisCache`, a cache in a Redis server shared by every process
  that uses it, and `TwoLevelCache`, an in-process cache in front of it.
* `near`: `PubSubNearCache` and `TrackingNearCache`, in-process caches in
  front of Redis that drop a copy as soon as another process changes it
  (invalidation over pub/sub; server-assisted client-side caching).
* `servers`: `redis_server()` and `redis_cluster()`, real embedded Valkey
  servers on loopback ports (or the server named by `CACHELAB_REDIS_URL`).

redis-py itself is imported on first use, so `import cachelab` stays quick.
"""

from .cache import *  # noqa: F403
from .cache import __all__ as _cache_all
from .near import *  # noqa: F403
from .near import __all__ as _near_all
from .servers import *  # noqa: F403
from .servers import __all__ as _servers_all

__all__ = [*_cache_all, *_near_all, *_servers_all]
