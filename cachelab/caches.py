"""Teaching caches that are drop-in replacements for cachetools' classes.

Each policy is a short subclass of `Cache`.  The base class keeps the
key -> value mapping, the size accounting and the statistics; a policy
only says what happens when a key is inserted, read, overwritten or
forgotten, and which key `popitem()` evicts.

Thread safety: no cache here is thread-safe on its own, because even a
read changes the eviction order.  Share one between threads through
`cached(cache, lock=threading.Lock())` or guard every call with a lock.
"""

import collections
import contextlib
import functools
import random
import time
import types
from collections.abc import ItemsView, MutableMapping, ValuesView
from typing import Protocol, runtime_checkable

from ._checks import check_callable, check_int, check_seconds

__all__ = [
    "Cache",
    "CacheEvent",
    "CacheInfo",
    "CacheLike",
    "ExpiringCache",
    "FIFOCache",
    "FakeClock",
    "LFUCache",
    "LRUCache",
    "RRCache",
    "Row",
    "TTLCache",
    "MISSING",
    "cached",
    "hashkey",
]

CacheInfo = collections.namedtuple("CacheInfo", "hits misses maxsize currsize")
CacheInfo.__doc__ = "Statistics shaped like functools.lru_cache's cache_info()."

CacheEvent = collections.namedtuple("CacheEvent", "key value reason time")
CacheEvent.__doc__ = "A key leaving the cache: reason is 'evicted' or 'expired'."

Row = collections.namedtuple("Row", "label keys spared hand ghost notes",
                             defaults=(frozenset(), None, False, types.MappingProxyType({})))
Row.__doc__ = ("One row of a cache's state, as describe() returns it: a label and its keys, next "
               "to go first; the keys a policy will spare (a bit, a visit, a read), the key under "
               "its hand, whether the row holds ghosts (names only), and a short note per key "
               "(a count, an expiry time).  Every view draws these rows without knowing the policy.")

MISSING = object()  # the one sentinel that tells a miss from a stored None, package-wide
_MISSING = MISSING
_NO_DEFAULT = object()  # pop() called without a default: not a miss marker, an absent argument


@runtime_checkable
class CacheLike(Protocol):
    """What the patterns, `cached()` and the services need from a cache.

    A plain dict, a cachetools cache, a cachelab cache and a Redis-backed
    cache all satisfy it: `get(key, default)`, `cache[key] = value` and
    `pop(key, default)`.
    """

    def get(self, key, default=None): ...

    def __setitem__(self, key, value): ...

    def pop(self, key, default=None): ...


@runtime_checkable
class ExpiringCache(CacheLike, Protocol):
    """A cache that can also store one key with its own time-to-live, in seconds."""

    def set(self, key, value, ttl=None): ...


def _unhashable(key):
    return TypeError(
        f"key {key!r} is unhashable ({type(key).__name__}); "
        "cache keys must be hashable, e.g. a tuple instead of a list"
    )


class FakeClock:
    """A clock for tests and demos: time moves only when you call tick()."""

    def __init__(self, start=0.0):
        self.now = start

    def __call__(self):
        return self.now

    def tick(self, seconds=1.0):
        """Move time forward and return the new time."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        self.now += seconds
        return self.now

    def __repr__(self):
        return f"FakeClock(now={self.now!r})"


class Cache(MutableMapping):
    """A bounded mapping; subclasses decide which key `popitem()` evicts.

    Reads through `cache[key]` and `cache.get(key)` count as hits or
    misses; `key in cache`, `pop()` and `setdefault()` do not.
    """

    # State, for every cache:
    #   _data       key -> value; its order is the policy's order where it has one
    #   _sizes      key -> size, only when getsizeof is given
    #   _currsize   sum of the sizes, only when getsizeof is given
    #   _hits, _misses   counts for cache_info()
    #   _listeners  callables that receive a CacheEvent
    _data_type = dict

    def __init__(self, maxsize, getsizeof=None, *, timer=time.monotonic):
        self._maxsize = check_int("maxsize", maxsize)
        if getsizeof is not None:
            check_callable("getsizeof", getsizeof, "len")
        self._getsizeof = getsizeof
        self._sizes = None if getsizeof is None else {}
        self._currsize = 0
        self._data = self._data_type()
        self._hits = self._misses = 0
        self._listeners = []
        self.timer = timer

    # -- the policy's hooks; the defaults suit a policy with no extra state

    def _insert(self, key):
        """A new key was stored."""

    def _update(self, key):
        """An existing key was overwritten."""

    def _touch(self, key):
        """An existing key was read."""

    def _forget(self, key):
        """A key was removed."""

    def _victim(self):
        """Return the key that popitem() removes next."""
        return next(iter(self._data))

    # -- mapping protocol

    def __getitem__(self, key):
        value = self.get(key, _MISSING)
        return self.__missing__(key) if value is _MISSING else value

    def get(self, key, default=None):
        try:
            value = self._data.get(key, _MISSING)
        except TypeError:
            raise _unhashable(key) from None
        if value is _MISSING:
            self._misses += 1
            return default
        self._hits += 1
        self._touch(key)
        return value

    def __missing__(self, key):
        raise KeyError(key)

    def __setitem__(self, key, value):
        data = self._data
        try:
            present = key in data
        except TypeError:
            raise _unhashable(key) from None
        if self._sizes is not None:
            return self._set_sized(key, value, present)
        if present:
            data[key] = value
            self._update(key)
            return
        if self._maxsize < 1:
            raise ValueError(f"value too large for maxsize={self._maxsize}")
        while len(data) >= self._maxsize:
            self._evict()
        data[key] = value
        self._insert(key)

    def _set_sized(self, key, value, present):
        size = self._getsizeof(value)
        if size < 0:
            raise ValueError(f"getsizeof returned a negative size ({size!r}) for key {key!r}")
        if size > self._maxsize:
            raise ValueError(f"value too large: size {size} > maxsize={self._maxsize}")
        old = self._sizes[key] if present else 0
        while self._currsize - old + size > self._maxsize:
            self._evict()
            if present and key not in self._data:  # the old value itself was evicted
                present, old = False, 0
        self._data[key] = value
        self._sizes[key] = size
        self._currsize += size - old
        if present:
            self._update(key)
        else:
            self._insert(key)

    def __delitem__(self, key):
        try:
            del self._data[key]
        except TypeError:
            raise _unhashable(key) from None
        if self._sizes is not None:
            self._currsize -= self._sizes.pop(key)
        self._forget(key)

    def __contains__(self, key):
        try:
            return key in self._data
        except TypeError:
            raise _unhashable(key) from None

    # A snapshot, so that `for key in cache: cache[key]` works even though
    # each read reorders the keys underneath.
    def __iter__(self):
        return iter(list(self._data))

    def __len__(self):
        return len(self._data)

    # Looking at the contents is not using them: no hits, no reordering.
    def items(self):
        return _PeekItems(self)

    def values(self):
        return _PeekValues(self)

    def __repr__(self):
        items = dict(self.items())
        return (
            f"{type(self).__name__}({items!r}, "
            f"maxsize={self.maxsize!r}, currsize={self.currsize!r})"
        )

    # MutableMapping's versions route through __getitem__, which would count
    # hits and call __missing__; these peek at the data instead.
    def pop(self, key, default=_NO_DEFAULT):
        if key in self:
            value = self._data[key]
            del self[key]
            return value
        if default is _NO_DEFAULT:
            raise KeyError(key)
        return default

    def setdefault(self, key, default=None):
        if key in self:
            return self._data[key]
        self[key] = default
        return default

    def popitem(self):
        """Remove and return the (key, value) pair the policy evicts next."""
        if not self._data:
            raise KeyError(f"{type(self).__name__} is empty")
        key = self._victim()
        value = self._data[key]
        del self[key]
        return key, value

    def clear(self):
        """Remove every item and reset the statistics."""
        self._data.clear()
        if self._sizes is not None:
            self._sizes.clear()
        self._currsize = 0
        self._hits = self._misses = 0

    # -- beyond cachetools: sizes, statistics, events and snapshots

    @property
    def maxsize(self):
        """The maximum size of the cache."""
        return self._maxsize

    @property
    def currsize(self):
        """The current size of the cache."""
        return len(self) if self._sizes is None else self._currsize

    def cache_info(self):
        """Return CacheInfo(hits, misses, maxsize, currsize), as lru_cache does."""
        return CacheInfo(self._hits, self._misses, self.maxsize, self.currsize)

    def subscribe(self, listener):
        """Call listener(CacheEvent) whenever a key is evicted or expires."""
        self._listeners.append(check_callable("listener", listener, "print"))
        return listener

    def unsubscribe(self, listener):
        """Stop sending events to listener."""
        self._listeners.remove(listener)

    def _emit(self, key, value, reason):
        event = CacheEvent(key, value, reason, self.timer())
        for listener in self._listeners:
            listener(event)

    def _evict(self):
        key, value = self.popitem()
        if self._listeners:
            self._emit(key, value, "evicted")

    def snapshot(self):
        """Return the keys in eviction order, first to go first."""
        return {"order": list(self._data)}

    def describe(self):
        """Return the state as a tuple of Rows to draw; a policy with more state overrides it."""
        return (Row("cache", list(self._data)),)

    # Listeners are often lambdas or widgets, which do not pickle.
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_listeners"] = []
        return state


class _PeekItems(ItemsView):
    def __iter__(self):
        data = self._mapping._data
        for key in self._mapping:
            yield key, data[key]

    def __contains__(self, item):
        key, value = item
        return key in self._mapping and self._mapping._data[key] == value


class _PeekValues(ValuesView):
    def __iter__(self):
        data = self._mapping._data
        for key in self._mapping:
            yield data[key]


class FIFOCache(Cache):
    """First In, First Out: evict the key stored longest ago."""

    _data_type = collections.OrderedDict

    # As in cachetools, overwriting a key counts as storing it anew.
    def _update(self, key):
        self._data.move_to_end(key)


class LRUCache(Cache):
    """Least Recently Used: evict the key read or written longest ago."""

    _data_type = collections.OrderedDict

    def _touch(self, key):
        self._data.move_to_end(key)

    _update = _touch

    def snapshot(self):
        """Return the keys from least to most recently used."""
        return {"order": list(self._data)}


# Each LFU bucket is oldest-first.  An OrderedDict finds its head in O(1),
# where a dict, after many deletes at the front, scans for it.
_Bucket = collections.OrderedDict


class LFUCache(Cache):
    """Least Frequently Used: evict the key read or written the fewest times.

    Ties go to the key that reached that count first, as in cachetools.
    """

    # State:
    #   _counts   key -> number of uses
    #   _buckets  count -> keys with that count, in the order they reached it
    #   _min      the lowest count with a bucket, when the cache is not empty
    def __init__(self, maxsize, getsizeof=None, *, timer=time.monotonic):
        super().__init__(maxsize, getsizeof, timer=timer)
        self._counts = {}
        self._buckets = {}
        self._min = 0

    def _insert(self, key):
        self._counts[key] = 1
        if 1 in self._buckets:
            self._buckets[1][key] = None
        else:
            self._buckets[1] = _Bucket.fromkeys((key,))
        self._min = 1

    def _touch(self, key):
        counts, buckets = self._counts, self._buckets
        count = counts[key]
        counts[key] = new = count + 1
        bucket = buckets[count]
        if len(bucket) == 1:
            # Alone at this count: lift the whole bucket rather than rebuild it.
            del buckets[count]
            if self._min == count:
                self._min = new
            if new in buckets:
                buckets[new][key] = None
            else:
                buckets[new] = bucket
            return
        del bucket[key]
        if new in buckets:
            buckets[new][key] = None
        else:
            buckets[new] = _Bucket.fromkeys((key,))

    _update = _touch

    def _forget(self, key):
        count = self._counts.pop(key)
        bucket = self._buckets[count]
        del bucket[key]
        if not bucket:
            del self._buckets[count]

    def _victim(self):
        # _forget() may have emptied the lowest bucket; find the new one.
        if self._min not in self._buckets:
            self._min = min(self._buckets)
        return next(iter(self._buckets[self._min]))

    def clear(self):
        super().clear()
        self._counts.clear()
        self._buckets.clear()
        self._min = 0

    def frequency(self, key):
        """Return how many times key has been used while cached (0 if absent)."""
        return self._counts.get(key, 0)

    def snapshot(self):
        """Return the frequency buckets, lowest count (next to go) first."""
        return {"buckets": {c: list(self._buckets[c]) for c in sorted(self._buckets)}}

    def describe(self):
        """One row per use count, lowest (next to go) first, each oldest first."""
        return tuple(Row(f"{c}x", list(self._buckets[c])) for c in sorted(self._buckets))


class RRCache(Cache):
    """Random Replacement: evict a key chosen at random.

    Pass `seed=` for a repeatable run, or `choice=` as in cachetools.
    """

    # State:
    #   _keys   the cached keys in a list, so a random pick is O(1)
    #   _index  key -> its position in _keys, so a removal is O(1)
    def __init__(self, maxsize, choice=None, getsizeof=None, *, seed=None,
                 timer=time.monotonic):
        super().__init__(maxsize, getsizeof, timer=timer)
        if choice is not None and seed is not None:
            raise ValueError("pass either choice or seed, not both")
        if choice is None:
            choice = random.choice if seed is None else random.Random(seed).choice
        self.choice = check_callable("choice", choice, "random.choice")
        self._keys = []
        self._index = {}

    def _insert(self, key):
        self._index[key] = len(self._keys)
        self._keys.append(key)

    def _forget(self, key):
        # Move the last key into the hole, so the list never has gaps.
        index = self._index.pop(key)
        last = self._keys.pop()
        if index < len(self._keys):
            self._keys[index] = last
            self._index[last] = index

    def _victim(self):
        return self.choice(self._keys)

    def clear(self):
        super().clear()
        self._keys.clear()
        self._index.clear()


class TTLCache(LRUCache):
    """LRU with a time-to-live: an item expires `ttl` seconds after it is set.

    Expired items are dropped lazily, on the next read or write, and each
    one is reported to subscribers as an 'expired' event.
    """

    # State, beyond LRUCache's:
    #   _expires  key -> expiry time, soonest first (one ttl keeps it sorted)
    def __init__(self, maxsize, ttl, timer=time.monotonic, getsizeof=None):
        check_seconds("ttl", ttl, positive=True)
        check_callable("timer", timer, "time.monotonic")
        super().__init__(maxsize, getsizeof, timer=timer)
        self.ttl = ttl
        self._expires = collections.OrderedDict()

    def expire(self, now=None):
        """Drop the expired items and return them as (key, value) pairs."""
        if now is None:
            now = self.timer()
        expired = []
        expires = self._expires
        while expires:
            key, when = next(iter(expires.items()))
            if now < when:
                break
            value = self._data[key]
            Cache.__delitem__(self, key)
            expired.append((key, value))
            if self._listeners:
                self._emit(key, value, "expired")
        return expired

    def _insert(self, key):
        self._expires[key] = self.timer() + self.ttl

    def _update(self, key):
        self._data.move_to_end(key)
        self._expires[key] = self.timer() + self.ttl
        self._expires.move_to_end(key)

    def _forget(self, key):
        del self._expires[key]

    def _live(self, key):
        """Return True if key is cached and fresh; drop it if it has expired."""
        when = self._expires.get(key)
        if when is None:
            return False
        if self.timer() < when:
            return True
        self.expire()
        return False

    def get(self, key, default=None):
        try:
            live = self._live(key)
        except TypeError:
            raise _unhashable(key) from None
        if not live:
            self._misses += 1
            return default
        self._hits += 1
        self._data.move_to_end(key)
        return self._data[key]

    def __contains__(self, key):
        try:
            when = self._expires.get(key)
        except TypeError:
            raise _unhashable(key) from None
        return when is not None and self.timer() < when

    def __setitem__(self, key, value):
        self.expire()
        super().__setitem__(key, value)

    def __delitem__(self, key):
        if not self._live(key):
            raise KeyError(key)
        super().__delitem__(key)

    def __len__(self):
        self.expire()
        return len(self._data)

    def __iter__(self):
        self.expire()
        return super().__iter__()

    @property
    def currsize(self):
        self.expire()
        return super().currsize

    def popitem(self):
        """Remove and return the least recently used item that has not expired."""
        self.expire()
        return super().popitem()

    def clear(self):
        super().clear()
        self._expires.clear()

    def snapshot(self):
        """Return the LRU order and each key's expiry time."""
        self.expire()
        return {"order": list(self._data), "expires": dict(self._expires)}

    def describe(self):
        """One row in LRU order, each key noted with the time its TTL runs out."""
        self.expire()
        return (Row("cache", list(self._data),
                    notes={key: f"until {when:g}" for key, when in self._expires.items()}),)


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
        from .stampede import SingleFlight

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
                value = cache.get(k, _MISSING)
            return call(k, args, kwargs) if value is _MISSING else value

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            k = key(*args, **kwargs)
            with guard:
                value = cache.get(k, _MISSING)
                counts[value is _MISSING] += 1
            if value is not _MISSING:
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
