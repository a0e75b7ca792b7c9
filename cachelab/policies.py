"""Eviction policies past LRU and LFU: CLOCK, ARC, SIEVE, S3-FIFO, W-TinyLFU, and Belady's OPT.

The online policies are drop-in caches built on `cachelab.Cache`, so
they have `cache_info()`, eviction events, and `describe()`, which returns
their state as rows of keys with marks (a bit, a hand, a ghost) that every
view draws.  Each follows the reference simulator
libCacheSim step for step, so a replay gives the same hit count
(tests/test_libcachesim.py checks this); W-TinyLFU, whose frequency
sketch hashes keys, agrees with it statistically instead.  OPT needs the future, so it is
a function of the whole trace, `opt_hits()`, rather than a cache.

ARC and S3-FIFO count entries, not bytes: their ghost lists remember keys
whose values (and sizes) are gone, so they take no `getsizeof`.
"""

import collections
import copy
import functools
import hashlib
import heapq
import inspect
import math
import time
import types

import numpy as np

from ._checks import check_fraction, check_int
from .caches import Cache, FIFOCache, LFUCache, LRUCache, Row, RRCache
from .reuse import as_keys, reuses

__all__ = ["CLASSIC_POLICIES", "POLICIES", "ARCCache", "ClockCache", "CountMinSketch", "S3FIFOCache",
           "SieveCache", "WTinyLFUCache", "new_cache", "opt_hits", "opt_hits_at", "policy_class",
           "policy_name"]

_Queue = collections.OrderedDict  # O(1) append, pop from either end, delete anywhere


def _no_getsizeof(cls, getsizeof):
    if getsizeof is not None:
        raise TypeError(
            f"{cls.__name__} counts entries, so getsizeof is not supported "
            f"(got {getsizeof!r}); use maxsize as a number of items"
        )


class ClockCache(Cache):
    """CLOCK (second chance): a FIFO ring whose hand spares keys read since its last pass.

    A read sets the key's reference bit.  To evict, the hand looks at the
    oldest key: if its bit is set, the hand clears it and moves on (the key
    goes round again); the first key with a clear bit is evicted.
    """

    # State:
    #   _ring   key -> reference bit, in hand order: the hand points at the first key
    def __init__(self, maxsize, getsizeof=None, *, timer=time.monotonic):
        super().__init__(maxsize, getsizeof, timer=timer)
        self._ring = _Queue()

    def _insert(self, key, admitted):
        self._ring[key] = False

    def _touch(self, key):
        self._ring[key] = True

    _update = _touch

    def _forget(self, key):
        del self._ring[key]

    def _victim(self):
        ring = self._ring
        while True:
            key, referenced = next(iter(ring.items()))
            if not referenced:
                return key
            ring[key] = False  # second chance: clear the bit, go round again
            ring.move_to_end(key)

    def clear(self):
        super().clear()
        self._ring.clear()

    def snapshot(self):
        """Return the ring from the hand onwards and each key's reference bit."""
        return {"ring": list(self._ring), "referenced": dict(self._ring)}

    def describe(self):
        """One row, the ring from the hand onwards; keys with their bit set are spared."""
        ring = list(self._ring)
        return (Row("ring", ring, spared=frozenset(k for k in ring if self._ring[k]),
                    hand=ring[0] if ring else None),)


class SieveCache(Cache):
    """SIEVE (NSDI'24): a FIFO queue and a hand that sweeps from old to new.

    A read marks the key visited.  To evict, the hand walks from where it
    stopped last towards newer keys, clearing visited marks, and evicts the
    first unvisited key; past the newest key it wraps to the oldest.  Unlike
    CLOCK, a spared key keeps its place, so new keys are weeded out quickly.
    """

    # State (the queue, oldest first, is _behind followed by _ahead):
    #   _behind   keys the hand has passed on this sweep
    #   _ahead    the key under the hand, then the newer ones
    #   _visited  keys read since the hand last passed them
    def __init__(self, maxsize, getsizeof=None, *, timer=time.monotonic):
        super().__init__(maxsize, getsizeof, timer=timer)
        self._behind = _Queue()
        self._ahead = _Queue()
        self._visited = set()

    def _wrap(self):
        # The hand ran past the newest key: start again from the oldest.
        self._behind, self._ahead = self._ahead, self._behind

    def _insert(self, key, admitted):
        if not self._ahead:
            self._wrap()
        self._ahead[key] = None

    def _touch(self, key):
        self._visited.add(key)

    _update = _touch

    def _forget(self, key):
        if self._ahead.pop(key, self) is self:
            del self._behind[key]
        self._visited.discard(key)

    def _victim(self):
        visited = self._visited
        while True:
            if not self._ahead:
                self._wrap()
            key = next(iter(self._ahead))
            if key not in visited:
                return key
            visited.remove(key)
            del self._ahead[key]
            self._behind[key] = None

    def clear(self):
        super().clear()
        self._behind.clear()
        self._ahead.clear()
        self._visited.clear()

    def snapshot(self):
        """Return the queue (oldest first), the key under the hand, and the visited keys."""
        queue = list(self._behind) + list(self._ahead)
        hand = next(iter(self._ahead)) if self._ahead else (queue[0] if queue else None)
        return {"queue": queue, "hand": hand,
                "visited": [key for key in queue if key in self._visited]}

    def describe(self):
        """One row, the queue oldest first; the hand, and the visited keys it will spare."""
        snap = self.snapshot()
        return (Row("queue", snap["queue"], spared=frozenset(snap["visited"]), hand=snap["hand"]),)


class ARCCache(Cache):
    """ARC (FAST'03): recency list T1, frequency list T2, and ghosts B1, B2 that tune them.

    A key seen once lives in T1; a second use moves it to T2.  Evicted keys
    leave their names in the ghost lists B1 and B2.  A miss that hits B1
    means T1 was too small, so the target size `p` of T1 grows; a miss that
    hits B2 shrinks it.  The cache keeps the balance that fits the workload.

    Which key a ghost hit evicts depends on the ghost list it hit, which
    popitem() cannot be told, so that eviction happens in `_admit()`: a
    subclass's popitem() sees only the other evictions; subscribe() sees all.
    """

    # State (each list is least recently used first):
    #   _t1, _t2   cached keys seen once, and more than once
    #   _b1, _b2   ghost keys recently evicted from T1 and from T2
    #   _p         target size of T1, adapted on every ghost hit
    def __init__(self, maxsize, getsizeof=None, *, timer=time.monotonic):
        _no_getsizeof(type(self), getsizeof)
        super().__init__(maxsize, timer=timer)
        self._t1, self._t2 = _Queue(), _Queue()
        self._b1, self._b2 = _Queue(), _Queue()
        self._p = 0.0

    @property
    def p(self):
        """The adaptive target size of T1."""
        return self._p

    # The paper's cases II and III: a ghost hit adapts p and, if the cache is full,
    # REPLACE evicts now, while it is known which ghost list held the key.
    def _admit(self, key):
        """Return True if key was a ghost; a new key (case IV) is made room for by _victim()."""
        b1, b2 = len(self._b1), len(self._b2)
        if key in self._b1:
            self._p = min(self._p + max(b2 / b1, 1), self.maxsize)
            del self._b1[key]
            from_b2 = False
        elif key in self._b2:
            self._p = max(self._p - max(b1 / b2, 1), 0)
            del self._b2[key]
            from_b2 = True
        else:
            return False
        if len(self._data) >= self.maxsize:
            self._evict(self._replace(from_b2))
        return True

    def _insert(self, key, ghost):
        (self._t2 if ghost else self._t1)[key] = None

    def _touch(self, key):
        if self._t1.pop(key, self) is not self:
            self._t2[key] = None  # a second use: promote to T2
        else:
            self._t2.move_to_end(key)

    _update = _touch

    def _forget(self, key):
        if self._t1.pop(key, self) is self:
            self._t2.pop(key, None)

    def _victim(self):
        # A new key, or popitem(): trim the ghosts as the paper's case IV does, then REPLACE.
        if len(self._t1) + len(self._b1) >= self.maxsize:
            if not self._b1:
                key = next(iter(self._t1))  # T1 fills the cache: no room for a ghost
                del self._t1[key]
                return key
            self._b1.popitem(last=False)
        elif (len(self._t1) + len(self._b1) + len(self._t2) + len(self._b2)
              >= 2 * self.maxsize) and self._b2:
            self._b2.popitem(last=False)
        return self._replace(from_b2=False)

    def _replace(self, from_b2):
        """Move the LRU key of T1 or T2 to its ghost list, and return it."""
        t1 = len(self._t1)
        if (t1 and (t1 > self._p or (t1 == self._p and from_b2))) or not self._t2:
            key, _ = self._t1.popitem(last=False)
            self._b1[key] = None
        else:
            key, _ = self._t2.popitem(last=False)
            self._b2[key] = None
        return key

    def clear(self):
        super().clear()
        for queue in (self._t1, self._t2, self._b1, self._b2):
            queue.clear()
        self._p = 0.0

    def snapshot(self):
        """Return T1, T2, B1 and B2 (least recently used first) and the target p."""
        return {"T1": list(self._t1), "T2": list(self._t2),
                "B1": list(self._b1), "B2": list(self._b2), "p": self._p}

    def describe(self):
        """Rows T1 (with its target p), T2, then the ghosts B1 and B2, each LRU first."""
        return (Row(f"T1 (p={self._p:g})", list(self._t1)), Row("T2", list(self._t2)),
                Row("B1", list(self._b1), ghost=True), Row("B2", list(self._b2), ghost=True))


class S3FIFOCache(Cache):
    """S3-FIFO (SOSP'23): a small FIFO that filters one-hit wonders, a main FIFO, a ghost FIFO.

    New keys enter the small queue (10% of the cache).  A key leaving it
    moves to the main queue if it was read at least `move_to_main_threshold`
    times, else it is evicted and its name kept in the ghost queue; a key
    found in the ghost goes straight to main.  The main queue is a CLOCK
    with a 2-bit counter.  Scans pass through the small queue and never
    disturb main.

    As in libCacheSim, until the first eviction a full small queue sends
    new keys to main, and hit counts match it exactly from maxsize=20 up.
    Below that they differ on purpose: libCacheSim will not store a key as
    large as the whole small queue, so with room for one key there
    (maxsize 10-19) it stores nothing, and below 10 it refuses to start.
    Here the small queue always holds at least one key.
    """

    # State (each queue oldest first):
    #   _small, _main   cached keys
    #   _ghost          names of keys evicted from _small
    #   _freq           key -> reads while cached, capped at 3 (a 2-bit counter)
    #   _has_evicted    False until the first eviction
    def __init__(self, maxsize, getsizeof=None, *, small_ratio=0.1, ghost_ratio=0.9,
                 move_to_main_threshold=2, timer=time.monotonic):
        _no_getsizeof(type(self), getsizeof)
        super().__init__(maxsize, timer=timer)
        check_fraction("small_ratio", small_ratio)
        check_fraction("ghost_ratio", ghost_ratio)
        check_int("move_to_main_threshold", move_to_main_threshold, 1)
        self.small_ratio, self.ghost_ratio = small_ratio, ghost_ratio
        self.move_to_main_threshold = move_to_main_threshold
        if self.maxsize == math.inf:  # nothing is ever evicted for room: no queue has a bound
            self._small_size = self._main_size = self._ghost_size = math.inf
        else:
            self._small_size = max(int(self.maxsize * small_ratio), 1)
            self._main_size = self.maxsize - self._small_size
            self._ghost_size = int(self.maxsize * ghost_ratio)
        self._small, self._main, self._ghost = _Queue(), _Queue(), _Queue()
        self._freq = {}
        self._has_evicted = False

    # Look in the ghost before evicting: eviction may push this key out of it.
    def _admit(self, key):
        """Return True if key was a ghost, taking it out of the ghost queue."""
        return self._ghost.pop(key, self) is not self

    def _insert(self, key, from_ghost):
        if from_ghost or (not self._has_evicted and len(self._small) >= self._small_size):
            self._main[key] = None
        else:
            self._small[key] = None
        self._freq[key] = 0

    def _touch(self, key):
        if self._freq[key] < 3:
            self._freq[key] += 1

    _update = _touch

    def _forget(self, key):
        if self._small.pop(key, self) is self:
            self._main.pop(key, None)
        del self._freq[key]

    def _victim(self):
        self._has_evicted = True
        small, main, freq = self._small, self._main, self._freq
        while True:
            if len(main) > self._main_size or not small:
                return self._victim_from_main()
            # The oldest key of small goes, remembered in the ghost, unless it was read
            # often enough: then it moves to main, its counter reset, and the next is looked at.
            while small:
                key = next(iter(small))
                if freq[key] < self.move_to_main_threshold:
                    self._remember(key)
                    return key
                del small[key]
                main[key] = None
                freq[key] = 0
            # Every key in small was promoted; look again.

    def _victim_from_main(self):
        main, freq = self._main, self._freq
        while True:
            key = next(iter(main))
            if not freq[key]:
                return key
            freq[key] -= 1
            main.move_to_end(key)

    def _remember(self, key):
        if self._ghost_size < 1 or key in self._ghost:
            return
        while len(self._ghost) >= self._ghost_size:
            self._ghost.popitem(last=False)
        self._ghost[key] = None

    def clear(self):
        super().clear()
        for queue in (self._small, self._main, self._ghost):
            queue.clear()
        self._freq.clear()
        self._has_evicted = False

    def snapshot(self):
        """Return the small, main and ghost queues (oldest first) and each cached key's count."""
        return {"small": list(self._small), "main": list(self._main),
                "ghost": list(self._ghost), "freq": dict(self._freq)}

    def describe(self):
        """Rows small, main and ghost, oldest first; keys read since they arrived are spared."""
        read = frozenset(key for key, count in self._freq.items() if count)
        return (Row("small", list(self._small), spared=read.intersection(self._small)),
                Row("main", list(self._main), spared=read.intersection(self._main)),
                Row("ghost", list(self._ghost), ghost=True))


class CountMinSketch:
    """Approximate counts of many keys in a few rows of counters (Cormode and Muthukrishnan, 2005).

    Each of `depth` rows hashes a key to one of `width` counters; adding a
    key increments its counter in every row, and its estimate is the
    smallest of them, which can only overcount (other keys share a
    counter).  `halve()` divides every counter by two, so old popularity
    fades: TinyLFU calls it every `sample` recorded requests.
    """

    # Odd 64-bit multipliers, one per row: multiply-shift hashing spreads
    # consecutive integer keys over the whole row.
    _MULTIPLIERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                    0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9,
                    0x2545F4914F6CDD1D, 0x5851F42D4C957F2D)

    # State:
    #   _rows   depth lists of width counters
    #   _memo   key -> its cell in each row, for keys seen lately (cleared when it outgrows 4 x width)
    def __init__(self, width, depth=4):
        self.width = check_int("width", width, 1)
        check_int("depth", depth, 1)
        if depth > len(self._MULTIPLIERS):
            raise ValueError(f"depth must be an integer from 1 to {len(self._MULTIPLIERS)}, got {depth!r}")
        self._rows = [[0] * width for _ in range(depth)]
        self._memo = {}

    def _cells(self, key):
        # A cache asks about the same keys over and over (its candidates, its victims), and
        # hashing is most of the work, so each key's cells are remembered for a while.
        cells = self._memo.get(key)
        if cells is None:
            if len(self._memo) >= 4 * self.width:
                self._memo.clear()
            # (h * m mod 2**64) is spread over [0, 2**64); scaling it down picks one of width cells.
            h, width, mask = _stable_hash(key), self.width, (1 << 64) - 1
            cells = self._memo[key] = [((h * m) & mask) * width >> 64
                                       for m in self._MULTIPLIERS[:len(self._rows)]]
        return cells

    def __copy__(self):
        clone = object.__new__(type(self))
        clone.width, clone._rows, clone._memo = self.width, [row[:] for row in self._rows], dict(self._memo)
        return clone

    def add(self, key):
        """Count one more request for key."""
        for row, cell in zip(self._rows, self._cells(key)):
            row[cell] += 1

    def estimate(self, key):
        """Return the (over-)estimated count of key."""
        return min(row[cell] for row, cell in zip(self._rows, self._cells(key)))

    def halve(self):
        """Divide every counter by two: the periodic reset that lets popularity age."""
        for row in self._rows:
            row[:] = [count >> 1 for count in row]

    def clear(self):
        """Set every counter to zero."""
        for row in self._rows:
            row[:] = [0] * self.width

    def __repr__(self):
        return f"CountMinSketch(width={self.width}, depth={len(self._rows)})"


def _stable_hash(key):
    # hash() of a str changes from one Python process to the next (PYTHONHASHSEED),
    # which would make a step table differ between runs; integers hash to themselves.
    if isinstance(key, int):
        return (key << 1 | 1) & ((1 << 64) - 1)  # odd, so that key 0 does not land in cell 0 of every row
    return int.from_bytes(hashlib.blake2b(repr(key).encode(), digest_size=8).digest(), "little") | 1


class WTinyLFUCache(Cache):
    """W-TinyLFU (Einziger, Friedman and Manes, 2017), the policy of Caffeine.

    A new key enters a small LRU *window* (1% of the cache).  When the cache
    is full, the window's oldest key is a candidate for the *main* cache, a
    segmented LRU of a *probation* segment (20% of main) and a *protected*
    one (80%); a key read again in probation is promoted to protected, whose
    oldest key then falls back to probation.  TinyLFU admission: the
    candidate gets in only if a count-min sketch of recent requests says it
    is more popular than main's victim (probation's oldest key); the loser
    is evicted.  The sketch is halved every `sample_factor` x (main's size)
    hits in main, so yesterday's favourites fade.

    The sizes and counts are libCacheSim's (`WTinyLFU`: window 1%, main an
    SLRU split 1:4 whose admitted keys fill probation first, then protected;
    the sketch counts misses, hits in main, and each candidate at the door,
    but not hits in the window), not Caffeine's adaptive window and 4-bit
    counters.  A textbook Caffeine-style version differs from libCacheSim's
    by up to 4.7 points on the real trace.  Hit ratios agree with libCacheSim's within
    a point, not exactly: its sketch is a counting Bloom filter hashed with
    xxHash, so its overcounts fall on other keys and break other ties.
    libCacheSim also stores nothing below 100 entries (its 1% window rounds
    to zero); here the window always holds at least one key.
    """

    # State (each queue oldest first):
    #   _window      new keys, in LRU order
    #   _probation   main-cache keys admitted from the window and not read since
    #   _protected   main-cache keys read again while in probation
    #   _sketch      a CountMinSketch of recent requests
    #   _recorded    requests counted since the sketch was last halved
    def __init__(self, maxsize, getsizeof=None, *, window_ratio=0.01, protected_ratio=0.8,
                 sample_factor=32, timer=time.monotonic):
        _no_getsizeof(type(self), getsizeof)
        super().__init__(maxsize, timer=timer)
        self.window_ratio = check_fraction("window_ratio", window_ratio)
        self.protected_ratio = check_fraction("protected_ratio", protected_ratio)
        self.sample_factor = check_int("sample_factor", sample_factor, 1)
        if self.maxsize == math.inf:  # nothing is evicted, so no segment needs a bound
            self._window_size = self._main_size = self._protected_size = self._probation_size = math.inf
            main = 1024  # but the sketch needs a size
        else:
            self._window_size = max(int(self.maxsize * window_ratio), 1)
            main = self._main_size = max(self.maxsize - self._window_size, 0)
            self._protected_size = int(main * protected_ratio)
            self._probation_size = main - self._protected_size
        self._window, self._probation, self._protected = _Queue(), _Queue(), _Queue()
        # Sized as libCacheSim sizes its sketch, for a 0.1% error over main's keys:
        # 10 hashes and 14.4 counters per key (ln(1000) / ln(2)^2), 1.44 in each row;
        # at least 64 a row, so that a step table's few keys rarely share a counter.
        self._sketch = CountMinSketch(max(math.ceil(1.44 * main), 64), depth=10)
        self._sample = sample_factor * max(main, 1)
        self._recorded = 0

    def __copy__(self):
        clone = super().__copy__()
        clone._sketch = copy.copy(self._sketch)  # the counts are state too: never shared
        return clone

    def frequency(self, key):
        """The sketch's estimate of how often key was requested lately."""
        return self._sketch.estimate(key)

    def _record(self, key):
        self._sketch.add(key)
        self._recorded += 1
        if self._recorded >= self._sample:
            self._sketch.halve()
            self._recorded = 0

    def _insert(self, key, admitted):
        self._sketch.add(key)
        self._window[key] = None

    def _touch(self, key):
        if key in self._window:
            self._window.move_to_end(key)  # not counted: a key still in the window is new
            return
        self._record(key)
        if key in self._protected:
            self._protected.move_to_end(key)
        else:  # read again in probation: promote, and demote protected's oldest if it overflows
            del self._probation[key]
            self._protected[key] = None
            if len(self._protected) > self._protected_size:
                demoted, _ = self._protected.popitem(last=False)
                self._probation[demoted] = None

    _update = _touch

    def _forget(self, key):
        for queue in (self._window, self._probation, self._protected):
            if queue.pop(key, self) is not self:
                return

    def _to_main(self, key):
        # As libCacheSim's SLRU: the lowest segment with room takes it, else probation.
        del self._window[key]
        if len(self._probation) >= self._probation_size and len(self._protected) < self._protected_size:
            self._protected[key] = None
        else:
            self._probation[key] = None

    def _victim(self):
        # The cache is full and a new key is coming into the window.  The window's
        # oldest key moves on to main while main has room; then it and main's victim
        # meet at the door, and TinyLFU keeps the more frequent (a tie: the incumbent).
        while self._window:
            candidate = next(iter(self._window))
            if len(self._probation) + len(self._protected) < self._main_size:
                self._sketch.add(candidate)
                self._to_main(candidate)
                continue
            if not (self._probation or self._protected):
                return candidate  # no main cache at all (maxsize 1)
            victim = next(iter(self._probation or self._protected))
            admit = self._sketch.estimate(candidate) > self._sketch.estimate(victim)
            self._sketch.add(candidate)
            if not admit:
                return candidate
            self._to_main(candidate)  # evicting the victim makes its room
            return victim
        return next(iter(self._probation or self._protected))

    def clear(self):
        super().clear()
        for queue in (self._window, self._probation, self._protected):
            queue.clear()
        self._sketch.clear()
        self._recorded = 0

    def snapshot(self):
        """Return the window, probation and protected queues (oldest first) and each key's estimate."""
        keys = [*self._window, *self._probation, *self._protected]
        return {"window": list(self._window), "probation": list(self._probation),
                "protected": list(self._protected),
                "frequency": {key: self._sketch.estimate(key) for key in keys}}

    def describe(self):
        """Rows window, probation and protected, oldest first, each key noted with its estimated count."""
        snap = self.snapshot()
        notes = types.MappingProxyType({key: str(count) for key, count in snap["frequency"].items()})
        return (Row("window", snap["window"], notes=notes),
                Row("probation", snap["probation"], notes=notes),
                Row("protected", snap["protected"], notes=notes))


# -- every online policy by name ---------------------------------------------------

# The one registry: every list of policies in cachelab (the widgets' choices,
# the lab's columns, notebook 05's classic four) is drawn from it.  Adding a
# policy is one class above and one line here.  OPT is not here: it is not a cache.
POLICIES = {
    "LRU": LRUCache, "LFU": LFUCache, "FIFO": FIFOCache, "RR": RRCache,
    "CLOCK": ClockCache, "SIEVE": SieveCache, "ARC": ARCCache, "S3-FIFO": S3FIFOCache,
    "W-TinyLFU": WTinyLFUCache,
}

# The classic policies, those in cachelab.caches, which notebook 05 compares.
# (The guide itself names only LRU and LFU.)
CLASSIC_POLICIES = tuple(name for name, cls in POLICIES.items() if cls.__module__ == Cache.__module__)


def policy_name(policy):
    """Return the registry's spelling of the policy named `policy`, in any case: 'w-tinylfu' -> 'W-TinyLFU'."""
    names = {name.upper(): name for name in POLICIES}
    try:
        return names[policy.upper()]
    except (AttributeError, KeyError):
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}") from None


def policy_class(policy):
    """Return the cache class named `policy`, in any case: 'sieve' -> SieveCache."""
    return POLICIES[policy_name(policy)]


def new_cache(policy, maxsize, *, seed=0):
    """Return an empty cache of `policy` (a name or a class); a random policy is seeded."""
    cls = policy_class(policy) if isinstance(policy, str) else policy
    if _takes_seed(cls):
        return cls(maxsize, seed=seed)
    return cls(maxsize)


@functools.lru_cache(maxsize=None)
def _takes_seed(cls):
    return "seed" in inspect.signature(cls).parameters  # slow to ask: once per class


def opt_hits(trace, maxsize):
    """Return the hits of Belady's OPT: on a miss, evict the key needed furthest in the future.

    No online policy that stores every missed key can beat it, so it is
    the ceiling of every hit-ratio curve.  It reads the whole trace first.
    `maxsize=math.inf` holds every key: only first uses miss.
    """
    if isinstance(maxsize, bool) or not (isinstance(maxsize, (int, np.integer)) or maxsize == math.inf) \
            or maxsize < 0:
        raise ValueError(f"maxsize must be a non-negative integer or math.inf, got {maxsize!r}")
    return opt_hits_at(as_keys(trace), [maxsize])[0]


def opt_hits_at(keys, sizes):
    """Return OPT's hits at each of `sizes` on the integer array `keys`, finding the reuses once."""
    n = len(keys)
    earlier, later = reuses(keys)
    distinct = n - len(later)
    # Each request stores its key until the key's next use, or for good: n + i,
    # past every real time, when there is none.  Each such time is unique.
    until = n + np.arange(n)
    until[earlier] = later
    previous = np.full(n, -1)  # the request before, for the same key
    previous[later] = earlier
    until, previous = (-until).tolist(), previous.tolist()  # negated: heapq pops the smallest
    return [0 if size == 0 else n - distinct if size >= distinct else _belady(until, previous, size)
            for size in sizes]


def _belady(until, previous, maxsize):
    # A heap of the stored keys' next uses, furthest first.  A key is known by
    # the request that stored it: stored[i] is 1 while request i's key is cached
    # and stored by it.  A hit leaves its old entry in the heap, stale; its time
    # is the hit's, earlier than every live entry's, so the top is always live.
    n, hits, size = len(until), 0, 0
    stored = bytearray(n)
    heap, push, pop = [], heapq.heappush, heapq.heappop
    for i in range(n):
        before = previous[i]
        if before >= 0 and stored[before]:
            hits += 1
            stored[before] = 0
        elif size < maxsize:
            size += 1
        else:
            furthest = -pop(heap)  # the time of that key's next use: the request after
            stored[previous[furthest] if furthest < n else furthest - n] = 0
        stored[i] = 1
        push(heap, until[i])
    return hits
