"""Teaching caches that are drop-in replacements for cachetools' classes.

Each policy is a short subclass of `Cache`.  The base class keeps the
key -> value mapping, the size accounting and the statistics; a policy
only says what happens when a key is inserted, read, overwritten or
forgotten, and which key `popitem()` evicts (and, if it needs to know
something about a missed key before evicting for it, what: `_admit()`).

Thread safety: no cache here is thread-safe on its own, because even a
read changes the eviction order.  Share one between threads through
`cached(cache, lock=threading.Lock())` or guard every call with a lock.
"""

import collections
import copy
import datetime
import functools
import heapq
import math
import random
import time
import types
import warnings
from collections.abc import ItemsView, MutableMapping, ValuesView
from numbers import Real
from typing import Protocol, runtime_checkable

from ._checks import check_callable, check_maxsize, check_seconds, check_ttl

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
        if isinstance(start, bool) or not isinstance(start, Real):
            raise TypeError(f"start must be a finite number, got {start!r}")
        if not math.isfinite(start):
            raise ValueError(f"start must be a finite number, got {start!r}")
        self.now = start

    def __call__(self):
        return self.now

    def tick(self, seconds=1.0):
        """Move time forward and return the new time."""
        # NaN or inf would make every later time compare as 'expired' for good.
        self.now += check_seconds("seconds", seconds, finite=True)
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
    #   _sizes      key -> size, only when sizes are counted (see getsizeof)
    #   _currsize   sum of the sizes, only when sizes are counted
    #   _hits, _misses   counts for cache_info()
    #   _listeners  callables that receive a CacheEvent
    # Public attributes (timer, getsizeof, a subclass's lock) are settings, not state.
    _data_type = dict

    def __init__(self, maxsize, getsizeof=None, *, timer=time.monotonic):
        self._maxsize = check_maxsize("maxsize", maxsize)
        if getsizeof is not None:
            self.getsizeof = check_callable("getsizeof", getsizeof, "len")
        # As in cachetools, sizes are counted when getsizeof is given or a subclass overrides it.
        self._sizes = None if self.getsizeof is Cache.getsizeof else {}
        self._currsize = 0
        self._data = self._data_type()
        self._hits = self._misses = 0
        self._listeners = []
        self.timer = check_callable("timer", timer, "time.monotonic")

    @staticmethod
    def getsizeof(value):
        """Return the size of a value: 1, unless getsizeof= is given or a subclass overrides this."""
        return 1

    # -- the policy's hooks; the defaults suit a policy with no extra state

    # _admit() runs before anything is evicted for the missed key, so a policy can find
    # it in a ghost list that the eviction might trim.  A policy that evicts its own way
    # on some misses (ARC's REPLACE on a ghost hit) may evict here with self._evict(key).
    def _admit(self, key):
        """A missed key is about to be stored; return what _insert() should know of it (None)."""
        return None

    def _insert(self, key, admitted):
        """A new key was stored; `admitted` is what _admit() returned for it."""

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
        value = self.get(key, MISSING)
        return self.__missing__(key) if value is MISSING else value

    def get(self, key, default=None):
        try:
            value = self._data.get(key, MISSING)
        except TypeError:
            raise _unhashable(key) from None
        if value is MISSING:
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
        admitted = self._admit(key)
        while len(data) >= self._maxsize:
            self._evict()
        data[key] = value
        self._insert(key, admitted)

    def _size_of(self, key, value):
        # A NaN size would make currsize NaN, and every later `currsize > maxsize`
        # False: the cache would never evict again.  So check before storing anything.
        size = self.getsizeof(value)
        if isinstance(size, bool) or not isinstance(size, Real):
            raise TypeError(f"getsizeof must return a number >= 0, got {size!r} for key {key!r}")
        if not (size >= 0 and math.isfinite(size)):
            raise ValueError(f"getsizeof must return a finite number >= 0, got {size!r} for key {key!r}")
        return size

    def _set_sized(self, key, value, present):
        size = self._size_of(key, value)
        if size > self._maxsize:
            raise ValueError(f"value too large: size {size} > maxsize={self._maxsize}")
        old = self._sizes[key] if present else 0
        admitted = None if present else self._admit(key)
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
            self._insert(key, admitted)

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

    # Over a snapshot, so that `for key in cache: cache[key]` works even though
    # each read reorders the keys underneath; keys gone meanwhile are skipped.
    def __iter__(self):
        for key in list(self._data):
            if key in self:
                yield key

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
            raise KeyError(f"{type(self).__name__} is empty") from None
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
        """Call listener(CacheEvent) whenever a key is evicted or expires.

        The listener is called in the middle of the write that evicts, so it
        must not change the cache.  If it raises, the write still completes
        and the error comes back as a RuntimeWarning.
        """
        self._listeners.append(check_callable("listener", listener, "print"))
        return listener

    def unsubscribe(self, listener):
        """Stop sending events to listener."""
        self._listeners.remove(listener)

    # Listeners are told, not trusted: when one runs, a key has already left the
    # cache and the write that evicted it is half done.  An exception here would
    # drop the new value, so a failing listener (or timer) becomes a warning, and
    # the other listeners are still told.
    def _emit(self, key, value, reason, time=None):
        try:
            event = CacheEvent(key, value, reason, self.timer() if time is None else time)
        except Exception as error:
            return _warn_listener("timer", self.timer, error, key)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception as error:
                _warn_listener("listener", listener, error, key)

    # Every store evicts through popitem(), which subclasses may override, except
    # where a policy's _admit() chose the key itself (ARC's REPLACE on a ghost hit).
    def _evict(self, key=MISSING):
        if key is MISSING:  # None may be a key
            key, value = self.popitem()
        else:
            value = self._data[key]
            del self[key]
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

    # copy.copy() gives an independent cache, as in cachetools: the copy shares
    # the values and the public attributes (a subclass's lock or stats dict), and
    # owns a copy of the private state the `# State:` blocks name, so a write to
    # one never shows in the other.  Copying every private container, and the
    # containers in it (LFU's buckets), means a new policy needs no __copy__.
    # Like an unpickled cache, a copy starts with no listeners.
    def __copy__(self):
        cls = type(self)
        clone = cls.__new__(cls)
        clone.__dict__.update(self.__dict__)
        for name, value in self.__dict__.items():
            if name.startswith("_") and name != "_data":
                setattr(clone, name, _copy_state(value))
        clone._data = self._data.copy()  # one level only: the values are the user's
        clone._listeners = []
        return clone


_STATE_TYPES = (dict, list, set, collections.deque)


def _copy_state(value):
    """Copy one piece of a cache's private state: a container, and any container in it."""
    if not isinstance(value, _STATE_TYPES):
        return value
    value = copy.copy(value)
    if isinstance(value, dict):
        for key in list(value):
            if isinstance(value[key], _STATE_TYPES):
                value[key] = copy.copy(value[key])
    return value


def _warn_listener(what, culprit, error, key):
    warnings.warn(f"cache {what} {culprit!r} raised {error!r} while key {key!r} left the cache; "
                  f"the cache is intact and the write completed", RuntimeWarning, stacklevel=4)


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

    # The hooks run once or twice a request in a replay, so each looks a bucket up once.
    def _insert(self, key, admitted):
        self._counts[key] = 1
        bucket = self._buckets.get(1)
        if bucket is None:
            self._buckets[1] = bucket = _Bucket()
        bucket[key] = None
        self._min = 1

    def _touch(self, key):
        counts, buckets = self._counts, self._buckets
        count = counts[key]
        counts[key] = new = count + 1
        bucket = buckets[count]
        higher = buckets.get(new)
        if len(bucket) == 1:
            # Alone at this count: lift the whole bucket rather than rebuild it.
            del buckets[count]
            if self._min == count:
                self._min = new
            if higher is None:
                buckets[new] = bucket
            else:
                higher[key] = None
            return
        del bucket[key]
        if higher is None:
            buckets[new] = higher = _Bucket()
        higher[key] = None

    _update = _touch

    def _forget(self, key):
        count = self._counts.pop(key)
        bucket = self._buckets[count]
        if len(bucket) == 1:
            del self._buckets[count]  # the key was alone at its count
        else:
            del bucket[key]

    def _victim(self):
        bucket = self._buckets.get(self._min)
        if bucket is None:  # _forget() emptied the lowest bucket; find the new one
            self._min = min(self._buckets)
            bucket = self._buckets[self._min]
        return next(iter(bucket))

    def clear(self):
        super().clear()
        self._counts.clear()
        self._buckets.clear()
        self._min = 0

    def frequency(self, key):
        """Return how many times key has been used while cached (0 if absent)."""
        try:
            return self._counts.get(key, 0)
        except TypeError:
            raise _unhashable(key) from None

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

    def _insert(self, key, admitted):
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
        key = self.choice(self._keys)
        try:
            known = key in self._index
        except TypeError:  # unhashable: not a key of this cache either
            known = False
        if not known:
            # LookupError, not ValueError: a store that skips values too large to cache must not
            # swallow a broken choice function.
            raise LookupError(f"choice must return one of the keys it is given, as random.choice "
                              f"does; {self.choice!r} returned {key!r}, which is not in the cache")
        return key

    def clear(self):
        super().clear()
        self._keys.clear()
        self._index.clear()


class _Timer:
    """A TTLCache's timer: the clock, read once per operation.

    `with cache.timer as now:` reads the clock and holds that time until the
    block ends, so all one operation does (expire, store, report) sees the
    same now; outside a block, `cache.timer()` reads the clock.  Every
    reading is checked before the cache uses it, and a clock that steps back
    is held at the latest time read until it catches up.  Other attributes,
    such as a FakeClock's tick(), are the clock's own.
    """

    # State:
    #   _clock    the callable it wraps
    #   _nesting  how many `with` blocks are open; while > 0, every reading is _now
    #   _now      the time held for the open blocks
    #   _latest   the latest time read, so that time never runs backwards
    def __init__(self, clock):
        self._clock = clock
        self._nesting = 0
        self._now = self._latest = None

    def __call__(self):
        return self._now if self._nesting else self._read()

    def __enter__(self):
        if not self._nesting:
            self._now = self._read()
        self._nesting += 1
        return self._now

    def __exit__(self, *exc):
        self._nesting -= 1

    def _read(self):
        now = self._clock()
        if not (type(now) is float and math.isfinite(now)):  # the usual reading, checked fast
            self._check(now)
        if self._latest is not None and now < self._latest:
            return self._latest  # the clock stepped back: no key may come back to life
        self._latest = now
        return now

    def _check(self, now):
        if isinstance(now, datetime.datetime):
            return  # a datetime timer, with a timedelta ttl
        if isinstance(now, bool) or not isinstance(now, Real):
            raise TypeError(f"timer must return a number (or a datetime), got {now!r} from {self._clock!r}")
        if not math.isfinite(now):
            raise ValueError(f"timer must return a finite number, got {now!r} from {self._clock!r}")

    # A copy (or an unpickled timer) wraps the same clock, with no block open.
    def __reduce__(self):
        return _Timer, (self._clock,)

    def __getattr__(self, name):
        if name.startswith("_"):  # never forward copy's or pickle's hooks to the clock
            raise AttributeError(name)
        return getattr(self._clock, name)

    def __repr__(self):
        return f"_Timer({self._clock!r})"


def _at_one_time(method):
    """Run a TTLCache method with the clock read once, however often the method asks."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.timer:
            return method(self, *args, **kwargs)
    return wrapper


def _expiry(now, ttl):
    try:
        return now + ttl
    except TypeError:
        raise TypeError(f"ttl {ttl!r} does not fit the timer's time {now!r}: use seconds "
                        "with a numeric timer, a timedelta with a datetime timer") from None


class TTLCache(Cache):
    """LRU with a time-to-live: an item expires `ttl` seconds after it is set.

    `set(key, value, ttl=)` gives one key a time-to-live of its own.  Expired
    items are dropped lazily, on the next write, `len()` or missed read, and
    each one is reported to subscribers as an 'expired' event.

    Time is what the timer says, read once per operation.  A key is fresh
    while the time is before its expiry, which is fixed when the key is
    stored: a new `ttl` applies to keys stored from then on.  If the clock
    steps back, the cache holds the latest time it has read until the clock
    catches up, so a key once expired stays expired.  A `datetime` timer
    works with a `timedelta` ttl.
    """

    # State, beyond Cache's (its _data keeps keys in the order first stored, as a dict does):
    #   _lru      key -> None, least recently used first: popitem()'s order
    #   _expires  key -> its entry (expiry time, serial, key) in _heap
    #   _heap     entries, soonest expiry first.  Setting a key again or removing
    #             it leaves its old entry behind, stale: expire() skips an entry
    #             that is not the one in _expires (lazy deletion)
    #   _serial   numbers the entries: equal times never compare keys, and no
    #             two entries are equal
    #   timer     the clock, wrapped by _Timer so one operation reads it once
    def __init__(self, maxsize, ttl, timer=time.monotonic, getsizeof=None):
        self._ttl = check_ttl("ttl", ttl)
        super().__init__(maxsize, getsizeof, timer=timer)
        self.timer = _Timer(self.timer)
        self._lru = collections.OrderedDict()
        self._expires = {}
        self._heap = []
        self._serial = 0

    @property
    def ttl(self):
        """The time-to-live of keys stored from now on; keys stored before keep theirs."""
        return self._ttl

    @ttl.setter
    def ttl(self, ttl):
        self._ttl = check_ttl("ttl", ttl)

    # -- LRU order: LRUCache's hooks, on _lru

    def _insert(self, key, admitted):
        self._lru[key] = None

    def _touch(self, key):
        self._lru.move_to_end(key)

    _update = _touch

    def _forget(self, key):
        del self._lru[key]
        del self._expires[key]

    def _victim(self):
        return next(iter(self._lru))

    # -- expiry

    def set(self, key, value, ttl=None):
        """Store value under key for `ttl` seconds (default: the cache's ttl)."""
        ttl = self._ttl if ttl is None else check_ttl("ttl", ttl)
        with self.timer as now:
            # All that can fail (the clock, the sum) before anything changes.
            when = _expiry(now, ttl)
            self.expire(now)
            Cache.__setitem__(self, key, value)
            self._schedule(key, when)

    def __setitem__(self, key, value):
        self.set(key, value)

    def _schedule(self, key, when):
        self._serial += 1
        self._expires[key] = entry = (when, self._serial, key)
        heapq.heappush(self._heap, entry)
        # Once stale entries outnumber live ones, keep only the live ones,
        # so a key set again and again does not grow the heap without bound.
        if len(self._heap) > 2 * len(self._expires) + 8:
            self._heap = list(self._expires.values())
            heapq.heapify(self._heap)

    def expire(self, time=None):
        """Drop the items expired at `time` (default: now); return them as (key, value) pairs."""
        if time is None:
            time = self.timer()
        heap, expires, expired = self._heap, self._expires, []
        while heap and heap[0][0] <= time:
            entry = heapq.heappop(heap)
            key = entry[2]
            if expires.get(key) != entry:
                continue  # stale: the key was set again or removed since
            value = self._data[key]
            Cache.__delitem__(self, key)
            expired.append((key, value))
            if self._listeners:
                self._emit(key, value, "expired", time)
        return expired

    def _fresh(self, key, now):
        """Return True if key is stored and not expired at `now`."""
        try:
            entry = self._expires.get(key)
        except TypeError:
            raise _unhashable(key) from None
        return entry is not None and now < entry[0]

    # -- the mapping, each operation at one time

    # get(), `in` and del read the clock once and pass `now` on; the methods that
    # call other methods which read it again hold it with `with self.timer`.

    def get(self, key, default=None):
        now = self.timer()
        if self._fresh(key, now):
            self._hits += 1
            self._touch(key)
            return self._data[key]
        self._misses += 1
        self.expire(now)  # it may be there but expired: drop it
        return default

    def __contains__(self, key):
        return self._fresh(key, self.timer())

    def __delitem__(self, key):
        now = self.timer()
        if not self._fresh(key, now):
            self.expire(now)
            raise KeyError(key)
        Cache.__delitem__(self, key)

    def __len__(self):
        self.expire()
        return len(self._data)

    @property
    def currsize(self):
        with self.timer as now:
            self.expire(now)
            return super().currsize

    def popitem(self):
        """Remove and return the least recently used item that has not expired."""
        with self.timer as now:
            self.expire(now)
            return super().popitem()

    # These ask the time more than once (`key in self`, then `del self[key]`).
    pop = _at_one_time(Cache.pop)
    setdefault = _at_one_time(Cache.setdefault)
    __repr__ = _at_one_time(Cache.__repr__)

    def clear(self):
        super().clear()
        self._lru.clear()
        self._expires.clear()
        self._heap.clear()

    # A copy has its own _Timer on the same clock: a `with` on one does not hold the other.
    def __copy__(self):
        clone = super().__copy__()
        clone.timer = copy.copy(self.timer)
        return clone

    def snapshot(self):
        """Return the LRU order and each key's expiry time."""
        with self.timer as now:
            self.expire(now)
            return {"order": list(self._lru),
                    "expires": {key: self._expires[key][0] for key in self._lru}}

    def describe(self):
        """One row in LRU order, each key noted with the time its TTL runs out."""
        expires = self.snapshot()["expires"]
        return (Row("cache", list(expires),
                    notes={key: f"until {when:g}" if isinstance(when, Real) else f"until {when}"
                           for key, when in expires.items()}),)
