"""Each cache keeps the shared contract, then evicts in its own order."""

import random

import pytest

from cachelab import (
    FakeClock,
    FIFOCache,
    LFUCache,
    LRUCache,
    RRCache,
    TTLCache,
)

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


def test_fake_clock():
    clock = FakeClock(start=100)
    assert clock() == 100 and clock.tick() == 101 and clock.tick(0.5) == 101.5
    assert repr(clock) == "FakeClock(now=101.5)"
    with pytest.raises(ValueError, match="seconds"):
        clock.tick(-1)


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
