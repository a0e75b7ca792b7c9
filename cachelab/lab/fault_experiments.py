"""The outbox against delete-after-write under one fault schedule: the data behind notebook 11.

Both strategies replay the same seeded price changes against a real Redis,
through a TCP proxy that refuses all traffic for a stretch of writes (a
network blip), while the writing process crashes right after committing
some writes.  A crash is what it is to a process: the writer's objects are
dropped with whatever they held in memory, and a new writer takes over; the
SQLite file survives.  Then the faults heal, the survivors catch up, and a
reader that caches aside counts the reads that return a price other than the
database's.

* **Delete after write** commits the change, then deletes the key through
  a `RedisCache`, which remembers a delete it could not send and retries it
  when Redis is back.  That survives the blip; it does not survive a crash,
  since the memory goes with the process.
* **Outbox** commits the change and an outbox row in one transaction; an
  `Invalidator` deletes the key and then the row.  A crash leaves the row,
  and the next writer's invalidator delivers it.

The writers run on a `FakeClock` that moves `tick` seconds per write, with
their background retry off, so one seed gives the same counts on every run.
"""

import collections
import contextlib
import logging
import os
import random
import sqlite3
import tempfile
import uuid

from ..caches import FakeClock
from ..outbox import Invalidator, Outbox
from ..redis.cache import RedisCache
from .proxy import TCPProxy

__all__ = ["InvalidationRun", "STRATEGIES", "format_invalidation_runs", "invalidation_run",
           "outbox_vs_delete"]

STRATEGIES = ("delete after write", "outbox")

InvalidationRun = collections.namedtuple(
    "InvalidationRun", "strategy writes crashes blip stale_keys stale_reads reads")
InvalidationRun.__doc__ = (
    "One strategy through the fault schedule: the writes made, the writes after whose commit the "
    "writer crashed, the blip (first and last write refused), the keys left stale in Redis once "
    "everything healed, and the stale reads among the reads made then.")


class _Writer:
    """One writing process: commits price changes and invalidates the cache its own way."""

    def __init__(self, strategy, path, url, prefix, clock):
        self.strategy, self.clock = strategy, clock
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA synchronous = NORMAL")  # WAL: a commit survives a process crash, no fsync wait
        self.cache = RedisCache(url, prefix=prefix, timeout=1.0, backoff=0.05, max_backoff=0.4,
                                clock=clock, background=False)
        if strategy == "outbox":
            self.outbox = Outbox(self.db)
            self.invalidator = Invalidator(self.outbox, self.cache.unlink, backoff=0.05,
                                           max_backoff=0.4, clock=clock)

    def commit(self, key, price):
        with self.db:
            self.db.execute("UPDATE prices SET price = ? WHERE key = ?", (price, key))
            if self.strategy == "outbox":
                self.outbox.add(key)

    def invalidate(self, key):
        if self.strategy == "outbox":
            self.invalidator.step()
        else:
            self.cache.pop(key)

    def catch_up(self, rounds=20):
        """After the faults: let the back-off pass and deliver whatever this process still owes."""
        for _ in range(rounds):
            self.clock.tick(self.cache.max_backoff)
            owed = len(self.outbox) if self.strategy == "outbox" else self.cache.pending
            if not owed:
                return
            self.invalidator.step() if self.strategy == "outbox" else self.cache.retry()

    def crash(self):
        """The process dies: nothing it held in memory is sent; the database keeps what it committed."""
        self.db.close()


@contextlib.contextmanager
def _quiet(*names):
    """Silence the outage warnings a run provokes on purpose (they name ports, which vary)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def invalidation_run(server, strategy, *, writes=100, keys=100, blip=(20, 60), crashes=(40, 80),
                     reads_per_key=3, tick=0.01, seed=0):
    """Run one strategy through the fault schedule on `server` (a RedisServer); an InvalidationRun.

    Writes number 0..writes-1; those in blip[0]..blip[1]-1 meet a proxy that
    refuses every connection, and the writer crashes right after committing
    each write in `crashes`.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    rng = random.Random(seed)
    names = [f"price:{i}" for i in range(keys)]
    prefix = f"cachelab-faults:{uuid.uuid4().hex[:8]}:"
    clock = FakeClock()
    with tempfile.TemporaryDirectory(prefix="cachelab-outbox-") as folder, \
            TCPProxy(server.port) as proxy, _quiet("cachelab.redis", "cachelab.outbox"):
        path = os.path.join(folder, "shop.db")
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("CREATE TABLE prices (key TEXT PRIMARY KEY, price INTEGER)")
            db.executemany("INSERT INTO prices VALUES (?, 100)", [(name,) for name in names])
        reader = RedisCache(server.url, prefix=prefix, timeout=1.0)  # another process, straight to Redis
        reader.set_many({name: 100 for name in names})  # every price cached before the changes
        writer = _Writer(strategy, path, proxy.url(), prefix, clock)
        for i in range(writes):
            proxy.mode = "refuse" if blip[0] <= i < blip[1] else "pass"
            key, price = rng.choice(names), rng.randrange(101, 1000)
            writer.commit(key, price)
            if i in crashes:
                writer.crash()
                writer = _Writer(strategy, path, proxy.url(), prefix, clock)
            else:
                writer.invalidate(key)
            clock.tick(tick)
        proxy.mode = "pass"
        writer.catch_up()
        writer.crash()  # done: close its connection
        with sqlite3.connect(path) as db:
            truth = dict(db.execute("SELECT key, price FROM prices"))
        stale_reads, stale_keys = 0, set()
        for name in names * reads_per_key:
            price = reader.get(name)
            if price is None:  # cache aside: a miss loads from the database and caches it
                price = truth[name]
                reader.set(name, price)
            if price != truth[name]:
                stale_reads += 1
                stale_keys.add(name)
        reader.clear()
    return InvalidationRun(strategy, writes, tuple(crashes), tuple(blip), sorted(stale_keys),
                           stale_reads, len(names) * reads_per_key)


def outbox_vs_delete(server, **schedule):
    """Both strategies through the same fault schedule (see invalidation_run): a list of runs."""
    return [invalidation_run(server, strategy, **schedule) for strategy in STRATEGIES]


def format_invalidation_runs(runs):
    """A table: each strategy's stale keys and stale reads after the faults healed."""
    lines = [f"{'strategy':<20}{'writes':>7}{'crashes':>9}{'stale keys':>12}{'stale reads':>18}"]
    for run in runs:
        reads = f"{run.stale_reads} of {run.reads}"
        lines.append(f"{run.strategy:<20}{run.writes:>7}{len(run.crashes):>9}"
                     f"{len(run.stale_keys):>12}{reads:>18}")
    return "\n".join(lines)
