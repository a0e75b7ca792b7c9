"""Invariants of each caching pattern, over cachelab caches and a fake or real database."""

import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cachelab import FakeClock, LRUCache, TTLCache
from cachelab.patterns import (
    CacheAside, ClosedError, QueueFullError, ReadThrough, WriteAround, WriteBehind,
    WriteThrough, cache_aside, invalidate,
)
from cachelab.store import Store, StoreError

FALSY = [None, 0, "", [], False]


class FakeDB:
    """A dict that counts loads, records every saved write, and can fail on demand."""

    def __init__(self, fail_rate=0.0, seed=0):
        self.data, self.log, self.loads = {}, [], 0
        self.fail_rate, self.rng = fail_rate, random.Random(seed)
        self.fail_next = 0

    def _maybe_fail(self):
        if self.fail_next:
            self.fail_next -= 1
            raise StoreError("down")
        if self.rng.random() < self.fail_rate:
            raise StoreError("flaky")

    def load(self, key):
        self.loads += 1
        return self.data[key]

    def save(self, key, value):
        self.save_many([(key, value)])

    def save_many(self, batch):
        self._maybe_fail()
        for key, value in batch:
            self.data[key] = value
            self.log.append((key, value))


def test_cache_aside_reads_the_database_once_within_the_ttl():
    clock, db = FakeClock(), FakeDB()
    db.data["k"] = "v"
    cache = TTLCache(10, ttl=60, timer=clock)
    for _ in range(20):
        assert cache_aside(cache, "k", db.load) == "v"
        clock.tick(1)
    assert db.loads == 1
    clock.tick(60)
    cache_aside(cache, "k", db.load)
    assert db.loads == 2  # expired: read again


@pytest.mark.parametrize("value", FALSY)
def test_falsy_values_are_hits(value):
    db = FakeDB()
    db.data["k"] = value
    aside = CacheAside(LRUCache(10), db.load)
    assert [aside.read("k") for _ in range(3)] == [value] * 3
    assert db.loads == 1


def test_a_failed_load_caches_nothing():
    db, cache = FakeDB(), LRUCache(10)
    with pytest.raises(KeyError):
        cache_aside(cache, "absent", db.load)
    assert "absent" not in cache


def test_cache_aside_write_leaves_a_stale_copy_until_invalidated():
    db = FakeDB()
    db.data["k"] = 1
    aside = CacheAside(LRUCache(10), db.load, db.save)
    aside.read("k")
    aside.write("k", 2)
    assert aside.read("k") == 1 and db.data["k"] == 2  # the guide's "potential stale data"
    assert aside.invalidate("k", "never-cached") == 1
    assert aside.read("k") == 2 and db.loads == 2


def test_read_through_looks_like_a_mapping():
    db = FakeDB()
    db.data["k"] = 0
    rt = ReadThrough(LRUCache(10), db.load)
    assert rt["k"] == 0 and rt.get("k") == 0 and rt.get("absent", "d") == "d"
    assert db.loads == 2  # one for k, one failed load for absent


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.one_of(st.none(), st.integers(-2, 2)),
                          st.booleans()), max_size=30))
def test_write_through_cache_matches_the_database_after_every_write(writes):
    db, cache = FakeDB(), LRUCache(2)
    wt = WriteThrough(cache, db.load, db.save)
    for key, value, fails in writes:
        db.fail_next = int(fails)
        try:
            wt.write(key, value)
        except StoreError:
            assert key not in cache
        for k, v in cache.items():
            assert db.data[k] == v
        if not fails:
            assert cache[key] == value == wt.read(key)


def test_write_through_failure_does_not_leave_the_new_value_cached():
    db = FakeDB()
    wt = WriteThrough(LRUCache(10), db.load, db.save)
    wt.write("k", "old")
    db.fail_next = 1
    with pytest.raises(StoreError):
        wt.write("k", "new")
    assert "k" not in wt.cache
    assert wt.read("k") == "old"


def test_write_around_leaves_no_cache_entry():
    db = FakeDB()
    wa = WriteAround(LRUCache(10), db.load, db.save)
    wa.write("k", 1)
    assert "k" not in wa.cache
    assert wa.read("k") == 1 and "k" in wa.cache
    wa.write("k", 2)
    assert "k" not in wa.cache and wa.read("k") == 2
    db.fail_next = 1
    with pytest.raises(StoreError):
        wa.write("k", 3)
    assert "k" not in wa.cache


def test_invalidate_counts_what_was_there():
    cache = LRUCache(10)
    cache["a"] = None
    assert invalidate(cache, "a", "b") == 1 and "a" not in cache


def _writes(n=300, keys=7, seed=0):
    rng = random.Random(seed)
    return [(f"k{rng.randrange(keys)}", i) for i in range(n)]


def _per_key(pairs):
    out = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("background", [True, False])
def test_write_behind_close_writes_everything_in_order_per_key(background):
    db = FakeDB()
    writes = _writes()
    with WriteBehind(LRUCache(3), db.load, db.save_many, batch_size=8, maxsize=32,
                     flush_interval=0.01, background=background) as wb:
        for key, value in writes:
            wb.write(key, value)
            assert wb.read(key) == value
    assert _per_key(db.log) == _per_key(writes)
    assert wb.stats().unflushed == 0 and wb.stats().flushed == len(writes)


def test_write_behind_loses_nothing_when_a_fifth_of_database_writes_fail():
    db = FakeDB(fail_rate=0.2, seed=1)
    writes = _writes(500)
    wb = WriteBehind(LRUCache(100), db.load, db.save_many, batch_size=5, maxsize=50,
                     flush_interval=0.005, retries=20, backoff=0, sleep=lambda s: None)
    for key, value in writes:
        wb.write(key, value)
    wb.close()
    assert wb.stats().retried > 0
    assert _per_key(db.log) == _per_key(writes)


def test_write_behind_crash_loses_exactly_the_reported_writes():
    db = FakeDB()
    writes = _writes(100)
    wb = WriteBehind(LRUCache(100), db.load, db.save_many, batch_size=10, background=False)
    for i, (key, value) in enumerate(writes):
        wb.write(key, value)
        if i % 33 == 32:
            wb.pump()  # a flusher that runs now and then
    lost = wb.crash()
    assert lost and lost == writes[len(db.log):]
    assert db.log + lost == writes
    assert wb.stats().lost == len(lost) and wb.stats().unflushed == 0


def test_write_behind_crash_with_a_background_flusher_is_exact_too():
    db = FakeDB()
    writes = _writes(2000, keys=50)
    wb = WriteBehind(LRUCache(100), db.load, db.save_many, batch_size=10, flush_interval=0.001)
    for key, value in writes:
        wb.write(key, value)
    lost = wb.crash()
    assert db.log + lost == writes


def test_write_behind_refuses_writes_after_close():
    db = FakeDB()
    wb = WriteBehind(LRUCache(10), db.load, db.save_many)
    wb.write("k", 1)
    wb.close()
    with pytest.raises(ClosedError, match="closed"):
        wb.write("k", 2)
    assert db.data == {"k": 1}


def test_write_behind_back_pressure_times_out_when_the_database_is_down():
    db = FakeDB()
    db.fail_next = 10**9
    wb = WriteBehind(LRUCache(10), db.load, db.save_many, maxsize=4, batch_size=2,
                     retries=0, max_backoff=0.01)
    for i in range(4):
        wb.write("k", i)
    with pytest.raises(QueueFullError, match="still full"):
        wb.write("k", 4, timeout=0.05)
    assert isinstance(wb.last_error, StoreError)
    assert wb.crash() == [("k", i) for i in range(4)]  # nothing silently dropped


def test_write_behind_without_a_thread_flushes_inline_when_full():
    db = FakeDB()
    wb = WriteBehind(LRUCache(10), db.load, db.save_many, maxsize=4, batch_size=2, background=False)
    for i in range(5):
        wb.write("k", i)
    assert db.log == [("k", 0), ("k", 1)] and wb.stats().unflushed == 3


def test_write_behind_pump_follows_the_injected_clock():
    clock, db = FakeClock(), FakeDB()
    wb = WriteBehind(LRUCache(10), db.load, db.save_many, batch_size=10, flush_interval=5,
                     background=False, clock=clock)
    wb.write("a", 1)
    assert wb.pump() == 0
    clock.tick(5)
    assert wb.pump() == 1 and db.data == {"a": 1}


def test_write_behind_read_after_eviction_sees_the_queued_value():
    db = FakeDB()
    db.data["a"] = "old"
    wb = WriteBehind(LRUCache(1), db.load, db.save_many, background=False)
    wb.write("a", "new")
    wb.write("b", 0)  # evicts a from the one-slot cache
    assert wb.read("a") == "new" and db.loads == 0


@pytest.mark.parametrize("kwargs, name", [
    ({"batch_size": 0}, "batch_size"), ({"maxsize": 2, "batch_size": 3}, "batch_size"),
    ({"retries": -1}, "retries"), ({"flush_interval": 0}, "flush_interval"),
    ({"backoff": -1}, "backoff"),
])
def test_write_behind_bad_arguments_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        WriteBehind({}, dict.get, list, background=False, **kwargs)


def test_patterns_work_over_a_plain_dict_and_the_real_store():
    with Store(delay_scale=0) as store:
        cache = {}
        wt = WriteThrough(cache, store.get, store.put)
        wt.write("k", 0)
        assert cache == {"k": 0} and store.peek("k") == 0
        with WriteBehind(cache, store.get, store.put_many, background=False) as wb:
            for i in range(5):
                wb.write("k", i)
        assert store.peek("k") == 4 and store.stats().writes == 2


def test_background_flusher_and_application_threads_together():
    with Store(delay_scale=0) as store:
        cache = LRUCache(50)
        with WriteBehind(cache, store.get, store.put_many, batch_size=16, flush_interval=0.001) as wb:
            def work(n):
                for i in range(100):
                    wb.write(f"{n}:{i % 10}", i)  # the cache is written under the queue's lock
            threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert all(store.peek(f"{n}:{k}") == 90 + k for n in range(3) for k in range(10))


def test_writing_without_a_save_function_is_a_clear_error():
    wa = WriteAround(LRUCache(10), FakeDB().load)
    with pytest.raises(TypeError, match="no save function"):
        wa.write("k", 1)
    with pytest.raises(TypeError, match="load must be callable"):
        CacheAside(LRUCache(10), load="db")


def test_a_queue_nobody_closed_is_flushed_at_exit(tmp_path):
    """Forgetting close() must not lose the writes still queued when the program ends."""
    import subprocess
    import sys
    import textwrap

    db = tmp_path / "shop.sqlite3"
    script = textwrap.dedent(f"""
        from cachelab import LRUCache
        from cachelab.patterns import WriteBehind
        from cachelab.store import Store

        store = Store({str(db)!r}, delay=0)
        queue = WriteBehind(LRUCache(10), store.get, store.put_many, batch_size=100, flush_interval=3600)
        for i in range(5):
            queue.write(f"k{{i}}", i)
        print(queue.stats().unflushed)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "5"
    with Store(db, delay=0) as store:
        assert [store.get(f"k{i}") for i in range(5)] == [0, 1, 2, 3, 4]
