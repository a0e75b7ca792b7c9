"""Each cache keeps the shared contract, then evicts in its own order."""

import copy
import datetime
import math
import random

import pytest

from cachelab import (
    MISSING,
    FakeClock,
    FIFOCache,
    LFUCache,
    LRUCache,
    RRCache,
    TTLCache,
)
from cachelab.caches import ExpiringCache
from cachelab.policies import POLICIES

from cache_contract import CacheContract


def fill(cache, keys):
    for key in keys:
        cache[key] = key
    return cache


class TestLRU(CacheContract):
    Cache = LRUCache

    def test_evicts_least_recently_used(self):
        cache = fill(self.make(2), [1, 2])
        cache[1]  # 2 is now the least recently used
        cache[3] = 3
        assert sorted(cache) == [1, 3]

    def test_get_and_overwrite_refresh_recency(self):
        cache = fill(self.make(2), [1, 2])
        cache.get(1)
        cache[3] = 3
        assert 2 not in cache
        cache[1] = "new"  # now 3 is oldest
        cache[4] = 4
        assert sorted(cache) == [1, 4]

    def test_snapshot_is_recency_order(self):
        cache = fill(self.make(3), [1, 2, 3])
        cache[1]
        assert cache.snapshot() == {"order": [2, 3, 1]}


class TestFIFO(CacheContract):
    Cache = FIFOCache

    def test_evicts_first_in_even_if_read(self):
        cache = fill(self.make(2), [1, 2])
        cache[1]
        cache[3] = 3
        assert sorted(cache) == [2, 3]

    def test_overwrite_counts_as_new(self):
        # As in cachetools: storing a key again moves it to the back.
        cache = fill(self.make(2), [1, 2])
        cache[1] = "again"
        cache[3] = 3
        assert sorted(cache) == [1, 3]


class TestLFU(CacheContract):
    Cache = LFUCache

    def test_evicts_least_frequently_used(self):
        cache = fill(self.make(2), [1, 2])
        cache[1], cache[1], cache[2]
        cache[3] = 3
        assert sorted(cache) == [1, 3]

    def test_ties_go_to_the_key_that_reached_the_count_first(self):
        cache = fill(self.make(3), [1, 2, 3])
        cache[2], cache[1]  # 3 alone at count 1
        cache[4] = 4
        assert 3 not in cache
        cache[4]  # 2, 1 and 4 at count 2; 2 got there first
        cache[5] = 5
        assert sorted(cache) == [1, 4, 5]

    def test_frequency_and_snapshot(self):
        cache = fill(self.make(3), [1, 2])
        cache[1], cache[1]
        assert cache.frequency(1) == 3 and cache.frequency(2) == 1 and cache.frequency(9) == 0
        assert cache.snapshot() == {"buckets": {1: [2], 3: [1]}}

    def test_frequency_of_an_unhashable_key_names_the_key(self):
        with pytest.raises(TypeError, match=r"key \[1\] is unhashable"):
            self.make(2).frequency([1])

    def test_delete_of_the_rarest_key_then_evict(self):
        cache = fill(self.make(2), [1, 2])
        cache[2]
        del cache[1]  # the lowest bucket is gone
        cache[3] = 3
        cache[3]
        cache[3]
        cache[4] = 4  # must evict 2 (count 2), not 3 (count 3)
        assert sorted(cache) == [3, 4]


class TestRR(CacheContract):
    Cache = RRCache

    def test_seed_makes_evictions_repeatable(self):
        runs = [sorted(fill(RRCache(5, seed=7), range(50))) for _ in range(2)]
        assert runs[0] == runs[1]
        assert sorted(fill(RRCache(5, seed=8), range(50))) != runs[0]

    def test_choice_picks_the_victim(self):
        cache = fill(RRCache(3, choice=min), [5, 3, 9])
        cache[1] = 1
        assert sorted(cache) == [1, 5, 9]

    def test_choice_and_seed_conflict(self):
        with pytest.raises(ValueError, match="choice or seed"):
            RRCache(2, choice=min, seed=1)

    def test_bad_choice_is_named(self):
        with pytest.raises(TypeError, match="choice"):
            RRCache(2, choice=3)

    @pytest.mark.parametrize("returns", ["stranger", ["unhashable"], None])
    def test_a_choice_returning_a_key_not_in_the_cache_is_named_in_every_path(self, returns):
        from cachelab.lab.simulation import replay
        from cachelab.patterns import put

        cache = fill(RRCache(2, choice=lambda keys: returns), ["a", "b"])
        for evict in (lambda: cache.__setitem__("c", 3), cache.popitem, lambda: put(cache, "c", 3),
                      lambda: replay(cache, ["x", "y"])):
            with pytest.raises(LookupError, match=r"choice must return one of the keys"):
                evict()
        assert sorted(cache.items()) == [("a", "a"), ("b", "b")]


class TestTTL(CacheContract):
    Cache = TTLCache

    def make(self, maxsize, **kwargs):
        self.clock = FakeClock()
        return self.Cache(maxsize, ttl=10, timer=self.clock, **kwargs)

    def test_items_expire_after_ttl(self):
        cache = self.make(3)
        cache[1] = "one"
        self.clock.tick(9.9)
        assert cache[1] == "one"
        self.clock.tick(0.1)  # exactly ttl later: gone
        assert 1 not in cache and cache.get(1) is None and len(cache) == 0
        with pytest.raises(KeyError):
            cache[1]
        assert cache.cache_info().hits == 1 and cache.cache_info().misses == 2

    def test_reading_does_not_extend_life(self):
        cache = self.make(3)
        cache[1] = 1
        self.clock.tick(5)
        cache[1]
        self.clock.tick(5)
        assert 1 not in cache

    def test_writing_does_extend_life(self):
        cache = self.make(3)
        cache[1] = 1
        self.clock.tick(5)
        cache[1] = 2
        self.clock.tick(5)
        assert cache[1] == 2

    def test_expired_items_free_room_before_evicting(self):
        cache = self.make(2)
        cache[1] = 1
        self.clock.tick(5)
        cache[2] = 2
        self.clock.tick(5)  # 1 has expired, 2 has not
        cache[3] = 3
        assert sorted(cache) == [2, 3]

    def test_lru_order_within_ttl(self):
        cache = self.make(2)
        fill(cache, [1, 2])
        cache[1]
        cache[3] = 3
        assert sorted(cache) == [1, 3]

    def test_expiry_events_and_snapshot(self):
        cache = self.make(3)
        events = []
        cache.subscribe(events.append)
        cache[1] = "a"
        self.clock.tick(4)
        cache[2] = "b"
        assert cache.snapshot() == {"order": [1, 2], "expires": {1: 10, 2: 14}}
        self.clock.tick(7)
        assert cache.expire() == [(1, "a")]
        assert [(e.key, e.reason, e.time) for e in events] == [(1, "expired", 11)]

    def test_deleting_an_expired_key_is_a_keyerror(self):
        cache = self.make(2)
        cache[1] = 1
        self.clock.tick(10)
        with pytest.raises(KeyError):
            del cache[1]

    @pytest.mark.parametrize("ttl", [0, -1, -0.5])
    def test_ttl_must_be_positive(self, ttl):
        with pytest.raises(ValueError, match="ttl"):
            TTLCache(2, ttl=ttl)

    @pytest.mark.parametrize("ttl", ["10", None, True])
    def test_ttl_must_be_a_number(self, ttl):
        with pytest.raises(TypeError, match="ttl"):
            TTLCache(2, ttl=ttl)

    def test_timer_must_be_callable(self):
        with pytest.raises(TypeError, match="timer"):
            TTLCache(2, ttl=1, timer=5)

    # -- per-key ttl: TTLCache is an ExpiringCache

    def test_set_gives_one_key_its_own_ttl(self):
        cache = self.make(4)
        assert isinstance(cache, ExpiringCache)
        cache.set("long", 1)  # the cache's ttl, 10
        cache.set("short", 2, ttl=2)
        cache.set("mid", 3, ttl=5.5)
        cache["plain"] = 4
        assert cache.snapshot()["expires"] == {"long": 10, "short": 2, "mid": 5.5, "plain": 10}
        self.clock.tick(2)
        assert sorted(cache) == ["long", "mid", "plain"] and len(cache) == 3
        self.clock.tick(4)
        # Expiry order is not insertion order once ttls differ.
        assert cache.expire() == [("mid", 3)] and len(cache) == 2

    def test_set_again_replaces_the_ttl(self):
        cache = self.make(2)
        cache.set(1, "a", ttl=1)
        cache.set(1, "b", ttl=100)
        self.clock.tick(50)
        assert cache[1] == "b"
        cache.set(1, "c")  # back to the cache's ttl, from now
        self.clock.tick(10)
        assert 1 not in cache and len(cache) == 0

    def test_expired_items_come_out_soonest_first(self):
        cache = self.make(5)
        for key, ttl in [("a", 5), ("b", 1), ("c", 3), ("d", 3), ("e", 9)]:
            cache.set(key, key.upper(), ttl=ttl)
        self.clock.tick(5)
        assert cache.expire() == [("b", "B"), ("c", "C"), ("d", "D"), ("a", "A")]

    @pytest.mark.parametrize("ttl, error", [(0, ValueError), (-1, ValueError), (math.nan, ValueError),
                                            ("1", TypeError), (True, TypeError),
                                            (datetime.timedelta(0), ValueError)])
    def test_a_bad_per_key_ttl_names_ttl_and_stores_nothing(self, ttl, error):
        cache = self.make(2)
        cache[1] = 1
        with pytest.raises(error, match="ttl"):
            cache.set(2, 2, ttl=ttl)
        assert sorted(cache) == [1] and cache.snapshot()["expires"] == {1: 10}

    def test_a_timedelta_ttl_on_a_numeric_clock_is_a_clear_error(self):
        cache = self.make(2)
        with pytest.raises(TypeError, match="ttl.*timedelta"):
            cache.set(1, 1, ttl=datetime.timedelta(seconds=5))
        assert len(cache) == 0

    def test_datetime_timer_with_timedelta_ttls(self):
        now = [datetime.datetime(2024, 1, 1)]
        cache = TTLCache(3, ttl=datetime.timedelta(hours=1), timer=lambda: now[0])
        cache["hour"] = 1
        cache.set("minute", 2, ttl=datetime.timedelta(minutes=1))
        now[0] += datetime.timedelta(minutes=2)
        assert list(cache) == ["hour"]
        assert "until 2024-01-01 01:00:00" in cache.describe()[0].notes["hour"]

    def test_setting_one_key_again_and_again_keeps_the_heap_small(self):
        # Lazy deletion leaves stale heap entries; they must not pile up (a memory leak).
        cache = self.make(3)
        for n in range(10_000):
            cache[n % 2] = n
        assert len(cache._heap) <= 2 * len(cache) + 8

    # -- time that misbehaves (issue 13, items 5 and 7)

    @pytest.mark.parametrize("reading, error, match", [
        (RuntimeError("clock broke"), RuntimeError, "clock broke"),
        ("noon", TypeError, "timer"), (None, TypeError, "timer"),
        (math.nan, ValueError, "timer"), (math.inf, ValueError, "timer")])
    @pytest.mark.parametrize("good_reads", range(5))  # the old code went wrong at 3
    def test_an_insert_is_all_or_nothing_when_the_timer_fails(self, reading, error, match, good_reads):
        # The clock goes bad after `good_reads` more readings.  It used to go bad between
        # storing the value and giving it an expiry: a key that never expired, and a
        # KeyError on every later insert at capacity.
        clock = _BreakingClock()
        cache = TTLCache(2, ttl=10, timer=clock)
        cache[1], cache[2] = 1, 2
        before = cache.snapshot()
        clock.bad_after(good_reads, reading)
        try:
            cache[3] = 3
            stored = True
        except error as raised:
            assert match in str(raised)
            stored = False
        clock.repair()
        if stored:
            assert sorted(cache) == [2, 3] and cache.snapshot()["expires"][3] == 10
        else:
            assert cache.snapshot() == before and 3 not in cache
        for key in range(10, 20):
            cache[key] = key
        assert len(cache) == 2 and len(list(cache)) == 2

    def test_a_clock_that_steps_back_holds_time_still(self):
        self.clock = clock = FakeClock(100)
        cache = TTLCache(3, ttl=10, timer=clock)
        cache["a"] = 1  # expires at 110
        clock.now = 50  # the clock steps back
        cache["b"] = 2  # stored at the cache's time, 100: expires at 110, not 60
        assert cache.snapshot()["expires"] == {"a": 110, "b": 110}
        clock.now = 105
        assert len(cache) == len(list(cache)) == 2
        clock.now = 110
        assert len(cache) == len(list(cache)) == 0

    def test_a_key_seen_expired_stays_expired_when_the_clock_steps_back(self):
        cache = self.make(2)
        cache[1] = 1
        self.clock.tick(12)
        assert 1 not in cache
        self.clock.now = 5
        assert 1 not in cache and cache.get(1) is None and len(cache) == 0

    def test_changing_ttl_applies_to_keys_stored_afterwards(self):
        cache = self.make(3)
        cache["a"] = 1  # expires at 10
        cache.ttl = 1
        cache["b"] = 2  # expires at 1, before a
        self.clock.tick(2)
        # With expiries kept in insertion order, len() used to count b here.
        assert len(cache) == len(list(cache)) == 1 and "a" in cache
        assert cache.snapshot()["expires"] == {"a": 10}

    @pytest.mark.parametrize("ttl, error", [(0, ValueError), (math.nan, ValueError), ("x", TypeError)])
    def test_a_bad_ttl_at_runtime_names_ttl(self, ttl, error):
        cache = self.make(2)
        with pytest.raises(error, match="ttl"):
            cache.ttl = ttl
        assert cache.ttl == 10

    def test_a_raising_expiry_listener_loses_nothing(self):
        cache = self.make(2)
        cache.subscribe(lambda event: 1 / 0)
        cache[1] = 1
        self.clock.tick(10)
        with pytest.warns(RuntimeWarning, match="ZeroDivisionError"):
            cache[2] = 2
        assert sorted(cache) == [2] and cache.snapshot()["expires"] == {2: 20}

    def test_copy_has_its_own_timer_on_the_same_clock(self):
        cache = self.make(2)
        cache[1] = 1  # expires at 10
        self.clock.tick(5)
        clone = copy.copy(cache)
        clone[2] = 2  # expires at 15, in the copy only
        assert sorted(cache) == [1] and sorted(clone) == [1, 2]
        with cache.timer as now:
            self.clock.tick(5)
            assert cache.timer() == now == 5 and clone.timer() == 10
        assert len(cache) == 0 and sorted(clone) == [2]


class _BreakingClock:
    """A clock at time 0 that, once told, goes bad after some good readings."""

    def __init__(self):
        self.good, self.reading = None, None

    def bad_after(self, good_reads, reading):
        self.good, self.reading = good_reads, reading

    def repair(self):
        self.good = None

    def __call__(self):
        if self.good is None or self.good > 0:
            self.good = None if self.good is None else self.good - 1
            return 0.0
        if isinstance(self.reading, Exception):
            raise self.reading
        return self.reading


def test_fake_clock():
    clock = FakeClock(start=100)
    assert clock() == 100 and clock.tick() == 101 and clock.tick(0.5) == 101.5
    assert repr(clock) == "FakeClock(now=101.5)"
    with pytest.raises(ValueError, match="seconds"):
        clock.tick(-1)


@pytest.mark.parametrize("seconds, error", [("1", TypeError), (None, TypeError), (True, TypeError),
                                            (math.nan, ValueError), (math.inf, ValueError)])
def test_fake_clock_refuses_what_is_not_a_duration(seconds, error):
    # tick(nan) used to be accepted, and then every entry expired for good.
    clock = FakeClock(start=5)
    with pytest.raises(error, match="seconds"):
        clock.tick(seconds)
    assert clock() == 5


@pytest.mark.parametrize("start, error", [("0", TypeError), (math.nan, ValueError)])
def test_fake_clock_start_is_a_finite_number(start, error):
    with pytest.raises(error, match="start"):
        FakeClock(start)


@pytest.mark.parametrize("cls", [LRUCache, LFUCache, FIFOCache, RRCache])
def test_the_timer_of_every_cache_is_checked(cls):
    # It used to be accepted, and failed later, during an eviction.
    with pytest.raises(TypeError, match="timer"):
        cls(10, timer="x")


def test_a_failing_timer_on_an_eviction_loses_nothing():
    def broken_clock():
        raise OSError("no clock")

    cache = LRUCache(1, timer=broken_clock)
    cache.subscribe(lambda event: None)
    cache[1] = 1
    with pytest.warns(RuntimeWarning, match="timer.*no clock"):
        cache[2] = 2
    assert list(cache.items()) == [(2, 2)]


def _replay(cache, keys):
    for key in keys:
        if cache.get(key, MISSING) is MISSING:
            cache[key] = key


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_a_copy_is_an_independent_cache(name):
    """copy.copy() of every registered policy: writes to the copy never reach the original."""
    # RR shares its choice() with the copy, as cachetools' does: min keeps the two in step.
    make = (lambda: RRCache(4, choice=min)) if name == "RR" else (lambda: POLICIES[name](4))
    rng = random.Random(name)
    first, then = ([rng.randrange(10) for _ in range(40)] for _ in range(2))
    cache = make()
    _replay(cache, first)
    clone = copy.copy(cache)
    before = cache.snapshot()
    _replay(clone, then)
    assert cache.snapshot() == before
    # ... and the copy went on exactly as the original does from the same state.
    _replay(cache, then)
    assert clone.snapshot() == cache.snapshot()
    assert dict(clone.items()) == dict(cache.items())


def test_events_carry_the_caches_timer():
    clock = FakeClock(start=42)
    cache = LRUCache(1, timer=clock)
    events = []
    cache.subscribe(events.append)
    cache[1] = 1
    cache[2] = 2
    assert events[0].time == 42


def test_subscribe_needs_a_callable():
    with pytest.raises(TypeError, match="listener"):
        LRUCache(1).subscribe("print")


@pytest.mark.parametrize("cls", [LRUCache, LFUCache, FIFOCache, RRCache])
def test_getsizeof_must_be_callable(cls):
    with pytest.raises(TypeError, match="getsizeof"):
        cls(3, getsizeof=5)


def test_random_source_is_injectable():
    rng = random.Random(3)
    a = fill(RRCache(4, choice=rng.choice), range(30))
    rng = random.Random(3)
    b = fill(RRCache(4, choice=rng.choice), range(30))
    assert sorted(a) == sorted(b)
