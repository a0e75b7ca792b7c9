"""The invalidation outbox: rows commit with the data change, and the invalidator drains them into
a real Valkey until each delete succeeds, through a refusing proxy and a crashed writer."""

import logging
import sqlite3
import uuid

import pytest

from cachelab import FakeClock
from cachelab.lab.proxy import TCPProxy
from cachelab.outbox import Invalidator, Outbox
from cachelab.redis import RedisCache
from waiting import wait_until


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "shop.db"
    db = sqlite3.connect(path, check_same_thread=False)
    with db:
        db.execute("CREATE TABLE prices (key TEXT PRIMARY KEY, price INTEGER)")
        db.executemany("INSERT INTO prices VALUES (?, ?)", [("price:1", 999), ("price:2", 249)])
    yield db
    db.close()


def change_price(db, outbox, key, price):
    with db:
        db.execute("UPDATE prices SET price = ? WHERE key = ?", (price, key))
        outbox.add(key)


class Deletes:
    """A delete function that records its calls and fails while `down` is set."""

    def __init__(self):
        self.calls, self.down = [], False

    def __call__(self, keys):
        if self.down:
            raise ConnectionError("the cache is unreachable")
        self.calls.append(keys)


def test_the_invalidation_commits_with_the_change_and_rolls_back_with_it(db):
    outbox = Outbox(db)
    change_price(db, outbox, "price:1", 949)
    assert outbox.pending() == [(1, "price:1")]
    with pytest.raises(ZeroDivisionError):
        with db:
            db.execute("UPDATE prices SET price = 1 WHERE key = 'price:2'")
            outbox.add("price:2")
            1 / 0  # the change fails: neither it nor its invalidation is kept
    assert [key for _, key in outbox.pending()] == ["price:1"]
    assert db.execute("SELECT price FROM prices WHERE key = 'price:2'").fetchone() == (249,)


def test_drain_deletes_the_keys_then_their_rows_and_keeps_them_when_the_delete_fails(db):
    outbox, delete = Outbox(db), Deletes()
    keys = ["price:1", 1, ("product", 2), b"\x00", None]
    with db:
        outbox.add(*keys, "price:1")
    delete.down = True
    with pytest.raises(ConnectionError):
        outbox.drain(delete)
    assert len(outbox) == 6  # nothing lost
    delete.down = False
    assert outbox.drain(delete, limit=4) == 4 and outbox.drain(delete) == 2 and len(outbox) == 0
    assert delete.calls == [keys[:4], [None, "price:1"]]  # the keys as written, each once a batch


def test_a_key_the_cache_would_refuse_is_refused_when_recorded(db):
    with pytest.raises(TypeError, match="make_key"):
        Outbox(db).add(object())


def test_the_invalidator_backs_off_doubling_per_failed_attempt_and_resets_on_success(db, caplog):
    clock, delete = FakeClock(), Deletes()
    outbox = Outbox(db)
    invalidator = Invalidator(outbox, delete, backoff=0.5, max_backoff=2, clock=clock)
    change_price(db, outbox, "price:1", 949)
    delete.down = True
    attempts = []
    with caplog.at_level(logging.WARNING, logger="cachelab.outbox"):
        for _ in range(40):
            failures = invalidator.failures
            invalidator.step()
            attempts.append(invalidator.failures - failures)
            clock.tick(0.25)
    # tried at t=0, then after 0.5, 1, 2, 2, 2... seconds (steps every 0.25 s)
    assert [i for i, tried in enumerate(attempts) if tried][:6] == [0, 2, 6, 14, 22, 30]
    assert len(outbox) == 1 and "1 invalidation(s) wait" in caplog.text
    delete.down = False
    clock.tick(2)
    assert invalidator.step() == 1 and len(outbox) == 0 and invalidator.delivered == 1
    change_price(db, outbox, "price:2", 199)
    assert invalidator.step() == 1  # the back-off was reset by the success


def test_a_crash_between_commit_and_delete_loses_no_invalidation(server, db, tmp_path):
    """The writer commits, then dies before deleting; the next invalidator finds the row."""
    prefix = f"outbox:{uuid.uuid4().hex[:8]}:"
    reader = RedisCache(server.url, prefix=prefix, timeout=1.0)
    reader["price:1"] = 999  # cached before the change
    with TCPProxy(server.port) as proxy:
        writer = RedisCache(proxy.url(), prefix=prefix, timeout=1.0, background=False)
        outbox = Outbox(db)
        change_price(db, outbox, "price:1", 949)
        with proxy.faulted("refuse"):
            with pytest.raises(ConnectionError, match="could not delete 1 key"):
                outbox.drain(writer.unlink)
        del writer, outbox  # the process dies: its memory is gone, the database is not
    after_restart = Outbox(sqlite3.connect(tmp_path / "shop.db"))
    assert after_restart.drain(RedisCache(server.url, prefix=prefix, timeout=1.0).unlink) == 1
    assert reader.get("price:1", "miss") == "miss"
    reader.clear()


def test_the_background_invalidator_delivers_through_a_blip(server, db, tmp_path):
    prefix = f"outbox:{uuid.uuid4().hex[:8]}:"
    reader = RedisCache(server.url, prefix=prefix, timeout=1.0)
    reader.set_many({"price:1": 999, "price:2": 249})
    outbox = Outbox(db)
    with TCPProxy(server.port) as proxy:
        cache = RedisCache(proxy.url(), prefix=prefix, timeout=1.0, background=False)
        drain_from = Outbox(sqlite3.connect(tmp_path / "shop.db", check_same_thread=False))
        invalidator = Invalidator(drain_from, cache.unlink, backoff=0.01, poll=0.01)
        with proxy.faulted("refuse"):
            change_price(db, outbox, "price:1", 949)
            change_price(db, outbox, "price:2", 199)
            invalidator.step()
            assert invalidator.failures == 1 and len(outbox) == 2
        with invalidator:  # the thread retries until each delete has succeeded
            wait_until(lambda: len(outbox) == 0)
    assert reader.get_many(["price:1", "price:2"], "miss") == ["miss", "miss"]
    assert invalidator.delivered == 2


# -- the experiment notebook 11 shows: the same fault schedule, both strategies

def test_under_the_same_faults_only_delete_after_write_leaves_stale_reads(server):
    from cachelab.lab.fault_experiments import format_invalidation_runs, outbox_vs_delete

    plain, outbox = outbox_vs_delete(server, seed=0)
    assert (plain.strategy, outbox.strategy) == ("delete after write", "outbox")
    assert plain.stale_reads == 3 * len(plain.stale_keys) > 0  # every read of a stale key
    assert (len(plain.stale_keys), plain.stale_reads) == (11, 33)  # notebook 11's prose quotes them
    assert outbox.stale_reads == 0 and outbox.stale_keys == []
    assert outbox_vs_delete(server, seed=0) == [plain, outbox]  # seeded: the same every run
    blip_only = outbox_vs_delete(server, seed=0, crashes=())
    assert [run.stale_reads for run in blip_only] == [0, 0]  # the in-memory retry covers a blip
    table = format_invalidation_runs([plain, outbox])
    assert f"{len(plain.stale_keys)}" in table and "0 of 300" in table
