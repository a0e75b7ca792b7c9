"""Memoizing a function in any cache: `cached()` and its default key, `hashkey()`.

The decorator works over every `CacheLike` (a cachelab or cachetools
cache, a dict, a Redis-backed cache), and with `single_flight=` it makes
concurrent misses on one key wait for one call (`cachelab.stampede`).
"""

import contextlib
import functools

from .caches import MISSING, CacheInfo, CacheLike
from .stampede import SingleFlight

__all__ = ["cached", "hashkey"]


def hashkey(*args, **kwargs):
    """Return a cache key for the given hashable arguments."""
    if kwargs:
        return args + (_KWMARK,) + tuple(sorted(kwargs.items()))
    return args


class _KWMARK:
    """Separates positional from keyword arguments inside a key."""


def cached(cache, key=hashkey, lock=None, *, single_flight=False):
    """Memoize a function in `cache`; pass `lock=` to share it between threads.

    `cache` is any `CacheLike`: a cachelab or cachetools cache, a dict, or
    a Redis-backed cache.  With a lock, every cache access happens under
    it; the function itself runs outside it, so a slow call does not block
    readers of other keys.  The wrapper has `cache`, `cache_info()` and
    `cache_clear()`; like `functools.lru_cache`, it counts its own hits and
    misses, so two functions sharing one cache keep separate statistics.

    Without more, 50 threads that miss one key at once all call the
    function (a stampede).  `single_flight=True` (or a shared
    `cachelab.stampede.SingleFlight()`) makes them wait for one call: its
    exception reaches every waiter, nothing is cached, the next call
    retries.  cachetools 8's `cached(cache, condition=threading.Condition())`
    also makes them wait, but on one condition for all keys (every finished
    call wakes every waiter), and when the call raises, each waiter in turn
    calls the function again instead of sharing the error.
    """
    if not isinstance(cache, CacheLike):
        raise TypeError(f"cache must have get(), [key] = value and pop(), such as "
                        f"cachelab.LRUCache(128) or a dict, got {cache!r}")
    if lock is not None and not (hasattr(lock, "__enter__") and hasattr(lock, "__exit__")):
        raise TypeError(f"lock must be a context manager such as threading.Lock(), got {lock!r}")
    flight = single_flight if hasattr(single_flight, "do") else None
    if single_flight is True:
        flight = SingleFlight()
    elif flight is None and single_flight is not False:
        raise TypeError(f"single_flight must be True, False or a SingleFlight(), got {single_flight!r}")

    def decorator(func):
        guard = lock if lock is not None else contextlib.nullcontext()
        # State: hits and misses of this function alone, guarded like the cache.
        counts = [0, 0]

        def recheck_and_call(k, args, kwargs):
            # The one caller of a flight: a flight that just landed may have stored it.
            with guard:
                value = cache.get(k, MISSING)
            return call(k, args, kwargs) if value is MISSING else value

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            k = key(*args, **kwargs)
            with guard:
                value = cache.get(k, MISSING)
                counts[value is MISSING] += 1
            if value is not MISSING:
                return value
            if flight is not None:
                return flight.do(k, lambda: recheck_and_call(k, args, kwargs))
            return call(k, args, kwargs)

        def call(k, args, kwargs):
            value = func(*args, **kwargs)
            with guard:
                try:
                    if hasattr(cache, "setdefault"):
                        # Another thread may have stored it meanwhile; keep theirs.
                        return cache.setdefault(k, value)
                    cache[k] = value
                except ValueError:
                    pass  # too large to cache
            return value

        def cache_clear():
            with guard:
                cache.clear()
                counts[:] = [0, 0]

        def cache_info():
            with guard:
                maxsize = getattr(cache, "maxsize", None)
                currsize = getattr(cache, "currsize", None)
                if currsize is None and hasattr(cache, "__len__"):
                    currsize = len(cache)
                return CacheInfo(counts[0], counts[1], maxsize, currsize)

        wrapper.cache = cache
        wrapper.cache_info = cache_info
        wrapper.cache_clear = cache_clear
        return wrapper

    return decorator
