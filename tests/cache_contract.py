"""The contract every cachelab cache keeps, as a mixin for per-policy test classes.

A test class sets `Cache` and, if its constructor needs more than
`(maxsize, getsizeof=)`, overrides `make()`.
"""

import math
import pickle
import warnings

import pytest

from cachelab import CacheInfo


class CacheContract:
    Cache = None

    def make(self, maxsize, **kwargs):
        return self.Cache(maxsize, **kwargs)

    def test_starts_empty(self):
        cache = self.make(2)
        assert len(cache) == 0 and cache.currsize == 0 and cache.maxsize == 2
        assert list(cache) == [] and 1 not in cache

    def test_set_get_delete(self):
        cache = self.make(2)
        cache[1] = "one"
        assert cache[1] == "one" and 1 in cache and len(cache) == 1
        del cache[1]
        assert 1 not in cache and cache.currsize == 0
        with pytest.raises(KeyError):
            cache[1]
        with pytest.raises(KeyError):
            del cache[1]

    def test_never_exceeds_maxsize(self):
        cache = self.make(3)
        for key in range(20):
            cache[key] = key
            assert cache.currsize <= 3
        assert len(cache) == 3

    def test_overwrite_keeps_size(self):
        cache = self.make(2)
        cache[1] = 1
        cache[1] = 2
        assert cache[1] == 2 and cache.currsize == 1

    def test_eviction_goes_through_popitem(self):
        popped = []

        class Spy(self.Cache):
            def popitem(self):
                item = super().popitem()
                popped.append(item)
                return item

        self.Cache, original = Spy, self.Cache
        try:
            cache = self.make(2)
        finally:
            self.Cache = original
        for key in range(3):
            cache[key] = key * 10
        assert len(popped) == 1
        key, value = popped[0]
        assert key not in cache and value == key * 10

    def test_admit_hears_each_stored_miss_before_its_eviction(self):
        heard = []

        class Spy(self.Cache):
            def _admit(self, key):
                heard.append((key, len(self)))  # how full it is before anything is evicted
                return super()._admit(key)

        self.Cache, original = Spy, self.Cache
        try:
            cache = self.make(2)
        finally:
            self.Cache = original
        for key in [0, 1, 0, 2]:
            cache[key] = key
        assert heard == [(0, 0), (1, 1), (2, 2)]  # not the overwrite of 0
        assert len(cache) == 2 and 2 in cache

    def test_popitem_on_empty_raises_keyerror(self):
        with pytest.raises(KeyError, match="empty"):
            self.make(2).popitem()

    def test_get_pop_setdefault_do_not_call_missing(self):
        class WithMissing(self.Cache):
            def __missing__(self, key):
                self[key] = "made"
                return "made"

        self.Cache, original = WithMissing, self.Cache
        try:
            cache = self.make(2)
        finally:
            self.Cache = original
        assert cache.get(1) is None
        assert cache.pop(1, "default") == "default"
        assert cache.setdefault(2, "set") == "set"
        assert 1 not in cache
        assert cache[3] == "made" and 3 in cache  # __getitem__ does call it

    def test_pop_and_setdefault(self):
        cache = self.make(2)
        cache[1] = "one"
        assert cache.setdefault(1, "other") == "one"
        assert cache.pop(1) == "one" and 1 not in cache
        with pytest.raises(KeyError):
            cache.pop(1)

    def test_falsy_values_are_hits(self):
        cache = self.make(5)
        for key, value in enumerate([None, 0, "", [], False]):
            cache[key] = value
        for key, value in enumerate([None, 0, "", [], False]):
            assert key in cache
            assert cache[key] == value
            assert cache.get(key, "missing") == value
        assert cache.cache_info().hits == 10 and cache.cache_info().misses == 0

    def test_cache_info_counts_reads(self):
        cache = self.make(2)
        cache[1] = 1
        cache.get(1)
        cache.get(2)
        with pytest.raises(KeyError):
            cache[3]
        _ = 1 in cache  # a peek, not a read
        assert cache.cache_info() == CacheInfo(hits=1, misses=2, maxsize=2, currsize=1)

    def test_clear_resets_size_and_stats(self):
        cache = self.make(3)
        for key in range(3):
            cache[key] = key
            cache.get(key)
        cache.clear()
        assert cache.currsize == 0 and len(cache) == 0
        assert cache.cache_info() == CacheInfo(0, 0, 3, 0)
        for key in range(5):  # still works after clear
            cache[key] = key
        assert len(cache) == 3

    def test_getsizeof(self):
        cache = self.make(10, getsizeof=len)
        cache["a"] = "xxx"
        cache["b"] = "yyyy"
        assert cache.currsize == 7
        cache["a"] = "x"
        assert cache.currsize == 5
        cache["c"] = "zzzzzzz"
        assert cache.currsize <= 10 and "c" in cache

    def test_too_large_value_leaves_cache_untouched(self):
        cache = self.make(3, getsizeof=len)
        cache["a"] = "x"
        before = (dict(cache._data), cache.currsize)
        with pytest.raises(ValueError, match="too large"):
            cache["b"] = "xxxx"
        with pytest.raises(ValueError, match="too large"):
            cache["a"] = "xxxx"
        assert (dict(cache._data), cache.currsize) == before

    def test_negative_size_names_getsizeof(self):
        cache = self.make(3, getsizeof=lambda value: -1)
        with pytest.raises(ValueError, match="getsizeof"):
            cache["a"] = "x"
        assert len(cache) == 0 and cache.currsize == 0

    @pytest.mark.parametrize("maxsize", [-1, -100])
    def test_negative_maxsize_names_parameter(self, maxsize):
        with pytest.raises(ValueError, match="maxsize"):
            self.make(maxsize)

    @pytest.mark.parametrize("maxsize", [2.5, "10", None, True])
    def test_non_integer_maxsize_names_parameter(self, maxsize):
        with pytest.raises(TypeError, match="maxsize"):
            self.make(maxsize)

    def test_unhashable_key_is_a_clear_error(self):
        cache = self.make(2)
        cache[1] = 1
        for operation in (lambda: cache.__setitem__([1], 1), lambda: cache[[1]],
                          lambda: cache.get([1]), lambda: [1] in cache,
                          lambda: cache.__delitem__([1])):
            with pytest.raises(TypeError, match=r"key \[1\] is unhashable"):
                operation()
        assert dict(cache._data) == {1: 1} and cache.cache_info().misses == 0

    def test_pickles(self):
        cache = self.make(3)
        cache.subscribe(lambda event: None)  # listeners are dropped, not pickled
        for key in range(5):
            cache[key] = str(key)
        copy = pickle.loads(pickle.dumps(cache))
        assert dict(copy._data) == dict(cache._data)
        assert copy.snapshot() == cache.snapshot()
        copy[99] = "new"  # and the copy still works as a cache
        assert 99 in copy and copy.currsize == 3

    def test_eviction_events(self):
        cache = self.make(2)
        events = []
        cache.subscribe(events.append)
        for key in range(4):
            cache[key] = key
        assert [e.reason for e in events] == ["evicted", "evicted"]
        assert all(e.key not in cache and e.value == e.key for e in events)
        cache.unsubscribe(events.append)
        cache[10] = 10
        assert len(events) == 2

    def test_snapshot_is_plain_data(self):
        cache = self.make(3)
        for key in range(3):
            cache[key] = key
        snap = cache.snapshot()
        assert isinstance(snap, dict)
        assert pickle.loads(pickle.dumps(snap)) == snap

    def test_repr_does_not_count_or_reorder(self):
        cache = self.make(2)
        cache[1] = "one"
        snap = cache.snapshot()
        text = repr(cache)
        assert type(cache).__name__ in text and "'one'" in text and "maxsize=2" in text
        assert cache.cache_info().hits == 0 and cache.snapshot() == snap

    def test_maxsize_zero_stores_nothing(self):
        cache = self.make(0)
        with pytest.raises(ValueError):
            cache[1] = 1
        assert len(cache) == 0

    def test_reading_while_iterating(self):
        cache = self.make(3)
        for key in range(3):
            cache[key] = key
        assert sorted(cache[key] for key in cache) == [0, 1, 2]
        assert sorted(cache.values()) == [0, 1, 2]
        assert (1, 1) in cache.items() and (1, 2) not in cache.items()
        assert cache.cache_info().hits == 3  # items() and values() are peeks

    # -- nothing lost, nothing corrupted (issue 13)

    @pytest.mark.parametrize("size, error", [
        (math.nan, ValueError), (math.inf, ValueError), (-1, ValueError),
        ("3", TypeError), (None, TypeError), (True, TypeError)])
    def test_bad_sizes_are_refused_naming_getsizeof(self, size, error):
        # A NaN size used to make currsize NaN, and the cache then never evicted again.
        sizes = {"bad": size}
        cache = self.make(10, getsizeof=lambda value: sizes.get(value, 1))
        for key in range(3):
            cache[key] = key
        with pytest.raises(error, match="getsizeof"):
            cache["k"] = "bad"
        assert "k" not in cache and sorted(cache) == [0, 1, 2] and cache.currsize == 3
        for key in range(3, 30):  # and it still evicts
            cache[key] = key
        assert cache.currsize == 10 and len(cache) == 10

    def test_a_raising_listener_loses_nothing(self):
        cache = self.make(2)
        told = []

        def broken(event):
            raise RuntimeError("listener broke")

        cache.subscribe(broken)
        cache.subscribe(told.append)
        cache[1], cache[2] = 1, 2
        with pytest.warns(RuntimeWarning, match="listener.*listener broke"):
            cache[3] = 3
        assert cache[3] == 3 and len(cache) == 2 and cache.currsize == 2
        assert [event.key for event in told] == [key for key in (1, 2) if key not in cache]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for key in range(4, 20):  # still a working cache
                cache[key] = key
        assert len(cache) == 2 and 19 in cache

