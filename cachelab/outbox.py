"""Cache invalidations that survive a crash: an outbox in the database, drained into the cache.

Delete-after-write (commit the change, then delete the cache key) has a gap:
if the process dies between the two steps, or the network drops the delete
and the process dies before it retries, the cache serves the old value until
its TTL ends.  An in-memory retry cannot close that gap, because the memory
goes with the process.

The outbox closes it.  The invalidation is a row written in the *same
transaction* as the change, so the two commit together or not at all.  An
`Invalidator` then reads the rows, deletes their keys from the cache, and
deletes a row only once its cache delete succeeded; while the cache is
unreachable it backs off and tries again.  A crash anywhere loses nothing:
the next invalidator (after a restart, or in another process) finds the rows
still there::

    import sqlite3
    from cachelab.outbox import Invalidator, Outbox

    db = sqlite3.connect("shop.db")
    outbox = Outbox(db)                           # creates the cache_outbox table
    with db:                                      # one transaction:
        db.execute("UPDATE prices SET price = 949 WHERE product_id = 1")
        outbox.add("price:1")                     # the change and its invalidation

    # The invalidator has its own connection: a thread sharing `db` would commit
    # in the middle of the application's transactions.
    drain_from = Outbox(sqlite3.connect("shop.db", check_same_thread=False))
    with Invalidator(drain_from, cache.unlink):   # cache: a RedisCache; a background thread
        ...                                       # or call Invalidator.step() yourself

A delete may run twice (the cache delete succeeded, then the process died
before the row was deleted), which is harmless: deleting is idempotent.
Keys are stored with `cachelab.redis.encode_key`, so any key a RedisCache
takes comes back out equal.
"""

import logging
import re
import sqlite3
import threading
import time

from ._checks import check_callable, check_int, check_seconds
from .redis.cache import decode_key, encode_key

__all__ = ["Invalidator", "Outbox"]

log = logging.getLogger("cachelab.outbox")

_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class Outbox:
    """The cache invalidations a SQLite database still owes, kept in a table of that database."""

    # State:
    #   db      the sqlite3 connection the data changes use (the outbox rows share its transactions)
    #   table   the outbox table's name
    def __init__(self, db, table="cache_outbox"):
        if not isinstance(db, sqlite3.Connection):
            raise TypeError(f"db must be a sqlite3.Connection, got {db!r}")
        if not isinstance(table, str) or not _TABLE.fullmatch(table):
            raise ValueError(f"table must be a SQL name of letters, digits and '_', got {table!r}")
        self.db, self.table = db, table
        with db:
            db.execute(f"CREATE TABLE IF NOT EXISTS {table} "
                       "(id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL)")

    def add(self, *keys):
        """Record that keys must be deleted from the cache; call it inside the data change's transaction.

        It does not commit: the rows commit (or roll back) with the change.
        """
        rows = [(encode_key(key),) for key in keys]  # a key the cache would refuse fails here, early
        self.db.executemany(f"INSERT INTO {self.table} (key) VALUES (?)", rows)

    def pending(self, limit=None):
        """The committed invalidations not yet drained, oldest first: a list of (row id, key)."""
        limit = -1 if limit is None else check_int("limit", limit, 1)
        rows = self.db.execute(f"SELECT id, key FROM {self.table} ORDER BY id LIMIT ?", (limit,))
        return [(row_id, decode_key(key)) for row_id, key in rows.fetchall()]

    def __len__(self):
        return self.db.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0]

    def drain(self, delete, limit=100):
        """Delete up to `limit` pending keys with delete(keys), then their rows; return how many.

        `delete` must raise if it could not delete (e.g. `RedisCache.unlink`); the
        rows then stay for the next try.  A key written twice is deleted once.
        """
        rows = self.pending(limit)
        if not rows:
            return 0
        delete(list(dict.fromkeys(key for _, key in rows)))
        with self.db:
            self.db.executemany(f"DELETE FROM {self.table} WHERE id = ?", [(i,) for i, _ in rows])
        return len(rows)

    def __repr__(self):
        return f"Outbox(table={self.table!r}, pending={len(self)})"


class Invalidator:
    """Drains an Outbox into a cache until each delete succeeds, backing off while it fails.

    `step()` makes one attempt (if the back-off has passed) and returns how
    many invalidations it delivered; `start()` runs steps in a background
    thread, every `poll` seconds while the outbox is empty.  The back-off
    starts at `backoff` and doubles with each failed attempt, up to
    `max_backoff`; one success resets it.
    """

    # State:
    #   outbox, delete      where the invalidations come from and how a key is deleted
    #   delivered, failures the counts: invalidations delivered, attempts failed
    #   _failed_in_a_row    consecutive failed attempts, for the back-off
    #   _retry_at           clock time before which step() does not try again
    #   _thread, _stop      the background thread and its stop flag
    def __init__(self, outbox, delete, *, backoff=0.05, max_backoff=5.0, poll=0.05, batch=100,
                 clock=time.monotonic):
        if not isinstance(outbox, Outbox):
            raise TypeError(f"outbox must be a cachelab.outbox.Outbox, got {outbox!r}")
        self.outbox = outbox
        self.delete = check_callable("delete", delete, "cache.unlink")
        self.backoff = check_seconds("backoff", backoff, positive=True, finite=True)
        self.max_backoff = check_seconds("max_backoff", max_backoff, positive=True, finite=True)
        self.poll = check_seconds("poll", poll, positive=True, finite=True)
        self.batch = check_int("batch", batch, 1)
        self.clock = check_callable("clock", clock, "time.monotonic")
        self.delivered = self.failures = self._failed_in_a_row = 0
        self._retry_at = None
        self._thread, self._stop = None, threading.Event()

    def step(self):
        """Try to drain one batch now, unless backing off; return the invalidations delivered."""
        if self._retry_at is not None and self.clock() < self._retry_at:
            return 0
        try:
            done = self.outbox.drain(self.delete, self.batch)
        except Exception as error:  # the cache is down: the rows wait, nothing is lost
            self.failures += 1
            self._failed_in_a_row += 1
            wait = min(self.backoff * 2 ** (self._failed_in_a_row - 1), self.max_backoff)
            self._retry_at = self.clock() + wait
            log.warning("cachelab.outbox: %d invalidation(s) wait: %s: %s; retrying in %.3g s",
                        len(self.outbox), type(error).__name__, error, wait)
            return 0
        self._failed_in_a_row, self._retry_at = 0, None
        self.delivered += done
        return done

    def start(self):
        """Drain in a background thread until stop(); the outbox's connection must allow it
        (sqlite3.connect(..., check_same_thread=False))."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, daemon=True, name="cachelab.outbox")
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            if not self.step():
                wait = self.poll if self._retry_at is None else self._retry_at - self.clock()
                self._stop.wait(max(wait, 0.001))

    def stop(self):
        """Stop the background thread; the rows still pending stay in the database."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return (f"Invalidator(delivered={self.delivered}, failures={self.failures}, "
                f"backing_off={self._retry_at is not None})")
