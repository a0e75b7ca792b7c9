"""Invariants of each caching pattern, over cachelab caches and a fake or real database."""

import contextlib
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
from cachelab.lab.store import Store, StoreError

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
    wb.crash()
    assert wb.wait(5)  # the batch in the database's hands when crash() came has landed or is lost
    assert db.log + wb.lost == writes


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
                     retries=0, max_backoff=0)
    for i in range(4):
        wb.write("k", i)
    # The flusher fails and retries at once, waking the writer each time: the writer's
    # timeout is a deadline all the same (it once restarted on every wake-up and never ended).
    outcome = []

    def blocked_write():
        try:
            wb.write("k", 4, timeout=0.05)
        except QueueFullError as error:
            outcome.append(error)

    writer = threading.Thread(target=blocked_write, daemon=True)
    writer.start()
    writer.join(10)  # only a hang detector: the write gives up after 0.05 s
    assert not writer.is_alive(), "write(timeout=0.05) never gave up while the flusher kept retrying"
    assert "still full" in str(outcome[0])
    assert isinstance(wb.last_error, StoreError)
    wb.crash()
    assert wb.wait(5) and wb.lost == [("k", i) for i in range(4)]  # nothing silently dropped


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
        from cachelab.lab.store import Store

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


# -- poison writes, rejected writes and dropped queues (issue 13)

class PoisonDB(FakeDB):
    """Refuses any batch holding a poison value, with an error that is not about the data."""

    def save_many(self, batch):
        if any(value == "poison" for _, value in batch):
            raise StoreError("constraint failed")
        super().save_many(batch)


def test_a_value_the_store_cannot_encode_is_refused_before_anything_changes():
    with Store(delay_scale=0) as store:
        cache = LRUCache(10)
        wb = WriteBehind(cache, store.get, store.put_many, background=False, check=store.check_put)
        wb.write("a", 1)
        before = wb.stats()
        with pytest.raises(TypeError, match="value .* can't be stored"):
            wb.write("bad", object())
        assert wb.stats() == before and "bad" not in cache
        wb.write("c", 3)
        assert wb.close() == []
        assert (store.peek("a"), store.peek("bad"), store.peek("c")) == (1, None, 3)


def test_a_poison_write_found_at_flush_time_is_set_aside_and_blocks_nothing():
    with Store(delay_scale=0) as store:
        cache = LRUCache(10)
        wb = WriteBehind(cache, store.get, store.put_many, background=False, sleep=lambda s: None)
        poison = object()
        wb.write("a", 1)
        wb.write("bad", poison)
        wb.write("c", 3)
        with pytest.warns(RuntimeWarning, match="refused 1 of 3 writes"):
            dead = wb.close()
        assert [(d.key, d.value) for d in dead] == [("bad", poison)]
        assert isinstance(dead[0].error, TypeError) and wb.dead_letters == dead
        assert (store.peek("a"), store.peek("c")) == (1, 3)
        assert wb.stats().dead == 1 and wb.stats().flushed == 2 and wb.stats().unflushed == 0
        assert "bad" not in cache  # the cache does not serve a value that was never stored


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_percent_poison_every_good_write_stored_every_poison_write_reported(seed):
    rng = random.Random(seed)
    writes = [(f"k{rng.randrange(500)}", "poison" if rng.random() < 0.01 else i) for i in range(10_000)]
    db = PoisonDB()
    wb = WriteBehind(LRUCache(100), db.load, db.save_many, batch_size=50, maxsize=200,
                     background=False, sleep=lambda s: None)
    for key, value in writes:
        wb.write(key, value)
    with pytest.warns(RuntimeWarning, match="refused"):
        dead = wb.close()
    good = [(k, v) for k, v in writes if v != "poison"]
    assert _per_key(db.log) == _per_key(good)  # every good write, in order per key
    assert [(d.key, d.value) for d in dead] == [(k, v) for k, v in writes if v == "poison"]
    assert 50 < len(dead) < 150 and wb.stats().dead == len(dead)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_percent_poison_through_the_store_is_refused_at_write_time(seed):
    rng = random.Random(seed)
    with Store(delay_scale=0) as store:
        wb = WriteBehind(LRUCache(100), store.get, store.put_many, batch_size=50,
                         background=False, check=store.check_put)
        refused, expected = 0, {}
        for i in range(10_000):
            key = f"k{i}"
            if rng.random() < 0.01:
                with pytest.raises(TypeError, match="can't be stored"):
                    wb.write(key, {"at": object()})
                refused += 1
            else:
                wb.write(key, i)
                expected[key] = i
        assert wb.close() == []
        assert store.stats().rows_written == len(expected) == 10_000 - refused and refused > 50
        assert all(store.peek(key) == value for key, value in expected.items())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ten_thousand_writes_all_stored_when_a_fifth_of_database_writes_fail(seed):
    with Store(delay_scale=0, fail_rate=0.2, seed=seed) as store:
        wb = WriteBehind(LRUCache(100), store.get, store.put_many, batch_size=50,
                         background=False, sleep=lambda s: None, check=store.check_put)
        for i in range(10_000):
            wb.write(f"k{i}", i)
        assert wb.close() == []
        assert wb.stats().retried > 0 and wb.stats().flushed == 10_000
        assert all(store.peek(f"k{i}") == i for i in range(10_000))


def test_a_database_that_is_down_keeps_the_batch_queued_not_dead():
    db = FakeDB()
    db.fail_next = 10**9
    wb = WriteBehind(LRUCache(10), db.load, db.save_many, background=False, retries=1,
                     sleep=lambda s: None)
    for i in range(5):
        wb.write(f"k{i}", i)
    with pytest.raises(StoreError):
        wb.flush()
    assert wb.stats().unflushed == 5 and wb.stats().dead == 0
    db.fail_next = 0
    assert wb.flush() == 5 and len(db.data) == 5


def test_an_unhashable_key_is_refused_before_it_is_queued():
    db = FakeDB()
    wb = WriteBehind(LRUCache(10), db.load, db.save_many, background=False)
    wb.write("a", 1)
    before = wb.stats()
    with pytest.raises(TypeError, match="unhashable"):
        wb.write(["x"], 1)
    assert wb.stats() == before and wb.stats().queued == wb.stats().unflushed == 1
    wb.close()
    assert db.log == [("a", 1)]


def test_a_cache_that_raises_leaves_the_write_unqueued():
    class Broken(dict):
        def __setitem__(self, key, value):
            raise ConnectionError("cache down")

    db = FakeDB()
    wb = WriteBehind(Broken(), db.load, db.save_many, background=False)
    with pytest.raises(ConnectionError):
        wb.write("a", 1)
    assert wb.stats().queued == 0 and wb.flush() == 0 and db.log == []  # a retry won't write twice


@pytest.mark.parametrize("pattern", [CacheAside, ReadThrough, WriteThrough, WriteAround])
@pytest.mark.parametrize("cache", [None, "cache", 42])
def test_patterns_refuse_a_non_cache_at_construction(pattern, cache):
    db = FakeDB()
    with pytest.raises(TypeError, match="cache must be a cache with get"):
        pattern(cache, db.load, db.save)
    assert db.log == []


def test_write_behind_refuses_a_non_cache_at_construction():
    with pytest.raises(TypeError, match="cache must be"):
        WriteBehind(None, dict.get, list, background=False)


def _run(script):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-W", "always::ResourceWarning", "-c", script],
                          capture_output=True, text=True, timeout=60)


_DROPPED = """
import gc
from cachelab import LRUCache
from cachelab.patterns import WriteBehind
from cachelab.lab.store import Store

store = Store({db!r}, delay=0)

def work():
    queue = WriteBehind(LRUCache(10), store.get, store.put_many, batch_size=100, background=False)
    for i in range(10_000):
        queue.write(f"k{{i}}", i)
    print(queue.stats().unflushed)
    {close_store}

work()  # the queue is dropped here, without close()
gc.collect()
"""


def test_a_queue_dropped_without_close_is_flushed(tmp_path):
    import sqlite3

    db = tmp_path / "shop.sqlite3"
    run = _run(_DROPPED.format(db=str(db), close_store=""))
    assert run.returncode == 0, run.stderr
    unflushed = int(run.stdout)
    assert unflushed > 0
    assert f"without close() with {unflushed} writes queued" in run.stderr
    assert "ResourceWarning" in run.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 10_000


def test_a_queue_dropped_after_its_store_closed_says_what_it_could_not_write(tmp_path):
    db = tmp_path / "shop.sqlite3"
    run = _run(_DROPPED.format(db=str(db), close_store="store.close()"))
    assert run.returncode == 0, run.stderr
    unflushed = int(run.stdout)
    assert f"could not flush {unflushed} writes when dropped without close()" in run.stderr
    assert "the store is closed" in run.stderr


# -- write-behind races, blips, hangs and signals (issue 18)

def test_a_read_racing_a_write_does_not_cache_the_older_database_value():
    """The loader is held inside its database read until the write has happened."""
    db = FakeDB()
    db.data["k"] = "old"
    loading, written = threading.Event(), threading.Event()

    def slow_load(key):
        value = db.load(key)  # the database's value, read before the write
        loading.set()
        assert written.wait(5)
        return value

    wb = WriteBehind(LRUCache(10), slow_load, db.save_many, background=False)
    reader = threading.Thread(target=lambda: results.append(wb.read("k")))
    results = []
    reader.start()
    assert loading.wait(5)
    wb.write("k", "new")
    written.set()
    reader.join(5)
    assert results == ["old"]  # the read began before the write: either answer is fair for it...
    assert wb.cache.get("k") == "new" and wb.read("k") == "new"  # ...but the cache keeps the newer
    wb.close()
    assert db.data["k"] == "new"


def test_a_read_with_no_write_meanwhile_caches_what_it_loaded():
    db = FakeDB()
    db.data["k"] = "v"
    wb = WriteBehind(LRUCache(10), db.load, db.save_many, background=False)
    assert wb.read("k") == "v" and wb.read("k") == "v" and db.loads == 1


class BlipDB(PoisonDB):
    """Refuses poison always, and every call in `blip` (numbered from 1) as a transient outage."""

    def __init__(self, blip):
        super().__init__()
        self.blip, self.calls = blip, 0

    def save_many(self, batch):
        self.calls += 1
        if self.calls in self.blip:
            raise StoreError("connection reset")
        super().save_many(batch)


@pytest.mark.parametrize("blip", [range(6, 14), range(6, 7), range(8, 12)])
def test_a_blip_while_a_poison_write_is_isolated_dead_letters_only_the_poison(blip):
    # Call 1 is the batch, 2-3 its retries; isolation then tries a (4), poison (5), b (6), c (7), ...
    db = BlipDB(blip)
    cache = LRUCache(10)
    wb = WriteBehind(cache, db.load, db.save_many, background=False, retries=2, sleep=lambda s: None)
    for key, value in [("a", 1), ("bad", "poison"), ("b", 2), ("c", 3)]:
        wb.write(key, value)
    for _ in range(3):  # a flush that finds the database down raises and keeps the writes queued
        with contextlib.suppress(StoreError):
            wb.flush()
    with pytest.warns(RuntimeWarning, match="refused 1 of 4"):
        dead = wb.close()
    assert [(d.key, d.value) for d in dead] == [("bad", "poison")]
    assert db.data == {"a": 1, "b": 2, "c": 3}
    assert cache.get("b") == 2 and cache.get("c") == 3 and "bad" not in cache


def test_crash_returns_at_once_while_the_database_call_hangs():
    db = FakeDB()
    entered, release = threading.Event(), threading.Event()

    def hung_save_many(batch):
        entered.set()
        assert release.wait(10)
        db.save_many(batch)

    wb = WriteBehind(LRUCache(10), db.load, hung_save_many, batch_size=2, flush_interval=60)
    for i in range(5):
        wb.write(f"k{i}", i)
    assert entered.wait(5)  # the flusher is inside the database call with k0, k1
    crasher = threading.Thread(target=lambda: results.append(wb.crash()))
    results = []
    crasher.start()
    crasher.join(5)
    hung = crasher.is_alive()
    release.set()  # let the hung call end, whatever happened, so nothing is left running
    assert not hung, "crash() waited for the hung database call"
    assert results == [[("k2", 2), ("k3", 3), ("k4", 4)]]  # never sent: surely lost
    assert wb.in_doubt == [("k0", 0), ("k1", 1)]  # sent, not yet answered
    assert wb.wait(5)
    assert db.log == [("k0", 0), ("k1", 1)] and wb.in_doubt == [] and wb.stats().flushed == 2


def test_crash_counts_a_hung_batch_that_then_fails_as_lost():
    entered, release = threading.Event(), threading.Event()

    def failing_save_many(batch):
        entered.set()
        release.wait(10)
        raise StoreError("gone")

    wb = WriteBehind(LRUCache(10), dict().get, failing_save_many, batch_size=2, flush_interval=60)
    for i in range(3):
        wb.write(i, i)
    assert entered.wait(5)
    assert wb.crash() == [(2, 2)]
    release.set()
    assert wb.wait(5) and wb.lost == [(0, 0), (1, 1), (2, 2)] and wb.stats().flushed == 0


_SIGTERMED = """
import sys, threading
from cachelab import LRUCache
from cachelab.patterns import WriteBehind
from cachelab.lab.store import Store

store = Store({db!r}, delay=0)
queue = WriteBehind(LRUCache(10), store.get, store.put_many, batch_size=1000, maxsize=20_000,
                    flush_interval=3600)
for i in range(10_000):
    queue.write(f"k{{i}}", i)
print(queue.stats().unflushed, flush=True)
threading.Event().wait(60)  # the parent sends SIGTERM here
"""


def test_sigterm_flushes_an_open_queue_before_the_process_ends(tmp_path):
    import signal
    import sqlite3
    import subprocess
    import sys

    db = tmp_path / "shop.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", _SIGTERMED.format(db=str(db))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        unflushed = int(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert unflushed > 0 and proc.returncode == 128 + signal.SIGTERM, proc.stderr.read()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 10_000


def test_sigterm_chains_to_a_handler_installed_before():
    import subprocess
    import sys

    script = """
import os, signal
from cachelab import LRUCache
from cachelab.patterns import WriteBehind
signal.signal(signal.SIGTERM, lambda *a: print("theirs", flush=True))
queue = WriteBehind(LRUCache(10), dict().get, lambda batch: print("saved", len(batch)), background=False)
queue.write("k", 1)
os.kill(os.getpid(), signal.SIGTERM)
print("still running", flush=True)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.split("\n") == ["theirs", "still running", "saved 1", ""], out.stderr


def test_a_full_queue_without_a_flusher_raises_queue_full_when_the_database_refuses():
    db = FakeDB()
    wb = WriteBehind(LRUCache(10), db.load, db.save_many, maxsize=2, batch_size=2, background=False,
                     retries=0)
    wb.write("a", 1)
    wb.write("b", 2)
    db.fail_next = 10**9
    before = (wb.stats(), list(wb.cache.items()))
    with pytest.raises(QueueFullError, match="queue full") as raised:
        wb.write("c", 3)
    assert isinstance(raised.value.__cause__, StoreError)
    assert (wb.stats(), list(wb.cache.items())) == before
    db.fail_next = 0
    wb.write("c", 3)
    wb.close()
    assert db.log == [("a", 1), ("b", 2), ("c", 3)]


def test_sigterm_with_no_open_queue_exits_as_sys_exit_does():
    import signal
    import subprocess
    import sys

    script = """
import os, signal
from cachelab import LRUCache
from cachelab.patterns import WriteBehind
WriteBehind(LRUCache(10), dict().get, list, background=False).close()
os.kill(os.getpid(), signal.SIGTERM)
print("still running")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 128 + signal.SIGTERM and out.stdout == "", out.stderr
