"""The guide's caching patterns as small pieces over any cache and any database.

Each pattern talks to its cache only through the mapping interface:
`cache.get(key, default)`, `cache[key] = value` and `cache.pop(key, None)`.
So a cachelab cache, a cachetools cache, a dict or a Redis-backed mapping
all work (see `cachelab.caches.CacheLike`).  The database side is a pair
of plain functions, `load(key)` and `save(key, value)` (or
`save_many(pairs)` for write-behind).

A miss is told from a stored None by `cachelab.caches.MISSING`, so cached falsy
values (None, 0, "", []) are hits, unlike the guide's `if cached:`.
"""

import atexit
import collections
import itertools
import signal
import sys
import threading
import time
import warnings
import weakref

from ._checks import check_callable, check_int, check_seconds
from .caches import MISSING, CacheLike, ExpiringCache

__all__ = [
    "CacheAside",
    "ClosedError",
    "DeadLetter",
    "QueueFullError",
    "ReadThrough",
    "WriteAround",
    "WriteBehind",
    "WriteBehindStats",
    "WriteThrough",
    "cache_aside",
    "install_sigterm_flush",
    "invalidate",
    "put",
]


WriteBehindStats = collections.namedtuple(
    "WriteBehindStats", "queued flushed retried unflushed batches lost dead")
WriteBehindStats.__doc__ = (
    "Write-behind counts: writes accepted, written to the database, batch retries, "
    "waiting right now, batches written, lost in a crash, and refused by the database (dead letters).")

DeadLetter = collections.namedtuple("DeadLetter", "key value error")
DeadLetter.__doc__ = "A write the database refused on its own, with the error it raised; it was never stored."

# Errors that say the data is wrong, not that the database is down (json.dumps raises
# TypeError or ValueError): a write failing with one is not retried, it is set aside.
_DATA_ERRORS = (TypeError, ValueError)


class ClosedError(RuntimeError):
    """A write reached a write-behind queue after close() or crash()."""


class QueueFullError(RuntimeError):
    """The write-behind queue stayed full for longer than the write's timeout."""


def put(cache, key, value, ttl=None):
    """Store in the cache (for ttl seconds, if given); a value too large for it is simply not cached."""
    try:
        if ttl is None:
            cache[key] = value
        elif isinstance(cache, ExpiringCache):
            cache.set(key, value, ttl)
        else:
            raise TypeError(f"cache must have set(key, value, ttl) to store a TTL, such as "
                            f"cachelab.TTLCache or RedisCache; got {type(cache).__name__}")
    except ValueError:
        cache.pop(key, None)


def cache_aside(cache, key, load):
    """Return cache[key]; on a miss call load(key), store the result, and return it."""
    check_callable("load", load, "db.get")
    if not hasattr(cache, "get"):
        raise TypeError(f"cache must be a cache with get(key, default), got {cache!r}")
    return _aside(cache, key, load)


def _aside(cache, key, load):
    # The patterns' reads come here directly: they checked cache and load once, when made.
    value = cache.get(key, MISSING)
    if value is MISSING:
        value = load(key)  # raises (e.g. NotFoundError) before anything is cached
        put(cache, key, value)
    return value


def invalidate(cache, *keys):
    """Drop keys from the cache; return how many were there."""
    if not callable(getattr(cache, "pop", None)):
        raise TypeError(f"cache must be a cache with pop(key, default), got {cache!r}")
    return sum(cache.pop(key, MISSING) is not MISSING for key in keys)


class _Pattern:
    """What every pattern shares: a cache, a loader, reads through cache-aside."""

    def __init__(self, cache, load, save=None, *, guard=None):
        # guard: stampede protection for reads, any object with fetch(cache, key, load)
        # (cachelab.stampede: SingleFlight, RedisLockGuard, StaleWhileRevalidate, XFetch).
        if guard is not None and not callable(getattr(guard, "fetch", None)):
            raise TypeError(f"guard must have fetch(cache, key, load), e.g. "
                            f"cachelab.stampede.SingleFlight(), got {guard!r}")
        self.guard = guard
        if isinstance(cache, type) or not isinstance(cache, CacheLike):
            raise TypeError(f"cache must be a cache with get(key, default), cache[key] = value and "
                            f"pop(key, default), e.g. LRUCache(100) or a dict, got {cache!r}")
        self.cache = cache
        self.load = check_callable("load", load)
        self.save = save if save is None else check_callable("save", save)

    def _save(self, key, value):
        if self.save is None:
            raise TypeError(f"this {type(self).__name__} has no save function; pass save= to write")
        self.save(key, value)

    def read(self, key):
        """Return the value for key, from the cache if it has it."""
        if self.guard is not None:
            return self.guard.fetch(self.cache, key, self.load)
        return _aside(self.cache, key, self.load)

    def invalidate(self, *keys):
        """Drop keys from the cache; return how many were there."""
        return invalidate(self.cache, *keys)

    def __repr__(self):
        return f"{type(self).__name__}(cache={self.cache!r})"


class CacheAside(_Pattern):
    """Cache-aside: the application reads the cache, loads on a miss, and stores the result.

    A write goes to the database only; the cached copy stays until its TTL
    runs out (the guide's "potential stale data"), unless you invalidate it.
    """

    def write(self, key, value):
        """Write to the database and leave the cache alone."""
        self._save(key, value)


class ReadThrough(_Pattern):
    """Read-through: the cache itself calls the loader, so callers only see a mapping."""

    def __getitem__(self, key):
        return self.read(key)

    def get(self, key, default=None):
        """Return the value, loading it on a miss; default if the loader raises LookupError."""
        try:
            return self.read(key)
        except LookupError:
            return default


class WriteThrough(_Pattern):
    """Write-through: a write returns only after the database and the cache both have it.

    The database goes first: if it fails, the cached copy is dropped, so the
    cache never holds a value the database may not have.
    """

    def write(self, key, value):
        """Write to the database, then to the cache."""
        try:
            self._save(key, value)
        except BaseException:
            # The save may have half-happened (a timeout after commit); don't trust the copy.
            self.cache.pop(key, None)
            raise
        put(self.cache, key, value)


class WriteAround(_Pattern):
    """Write-around: writes bypass the cache and drop its copy; the next read misses."""

    def write(self, key, value):
        """Write to the database, then drop the cached copy."""
        try:
            self._save(key, value)
        finally:
            self.cache.pop(key, None)


_OPEN = weakref.WeakSet()  # write-behind queues not yet closed or crashed


@atexit.register
def _close_at_exit():
    """A queue nobody closed is flushed at exit, so forgetting close() loses nothing."""
    for queue in list(_OPEN):
        queue._close_unattended("at exit")


_SIGTERM = {"installed": False, "previous": signal.SIG_DFL}


def _on_sigterm(signum, frame):
    """SIGTERM exits the way sys.exit() does, so open queues are flushed at exit (atexit).

    Raising SystemExit unwinds the main thread (its `with` blocks release their
    locks) before the atexit hook flushes, so a write or flush it interrupted
    cannot deadlock the flush.  A handler installed before ours runs instead.
    """
    previous = _SIGTERM["previous"]
    if callable(previous):
        return previous(signum, frame)
    raise SystemExit(128 + signum)  # the exit status a shell shows for a SIGTERM death


def install_sigterm_flush():
    """Make SIGTERM flush open write-behind queues before the process ends; return True if installed.

    SIGTERM then exits as sys.exit(143) does: `with` blocks and `finally`
    clauses run, then the atexit hook that flushes every open queue.
    WriteBehind calls this itself.  Only the main thread may install signal
    handlers, so a queue made in another thread installs nothing (call this
    from the main thread then).  A handler already set is chained to, and a
    SIGTERM that was being ignored stays ignored.
    """
    if _SIGTERM["installed"]:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN:
        return False
    _SIGTERM["previous"] = signal.SIG_DFL if previous is None else previous
    signal.signal(signal.SIGTERM, _on_sigterm)
    _SIGTERM["installed"] = True
    return True


class WriteBehind(_Pattern):
    """Write-behind: a write updates the cache and returns; batches reach the database later.

    With `background=True` a daemon thread flushes a batch whenever
    `batch_size` writes are waiting or `flush_interval` seconds have passed.
    With `background=False` nothing happens behind your back: call `pump()`
    (flush what is due by `clock`) or `flush()` yourself, which makes runs
    on a FakeClock exact.

    A full queue (`maxsize` writes) pushes back: a write waits up to
    `timeout` seconds for room (background mode) or flushes a batch itself.
    A failed batch is retried `retries` times with exponential back-off and
    stays at the head of the queue until it succeeds, so writes to one key
    reach the database in the order they were made.  `close()` (or leaving
    a `with` block) flushes everything; `crash()` stops at once without
    flushing and returns the writes that never reached the database (a batch
    the database was still writing is `in_doubt` until `wait()` settles it).
    A read that loads from the database while a write of the same key is
    made does not cache the older value it loaded.

    Poison writes never block the others.  `check(key, value)`, if given,
    runs before a write changes anything and raises for a value the
    database could never store (`Store.check_put` for the store's kv table).
    A write that still fails at flush time on its own, deterministically
    (with a TypeError/ValueError, an error about the data, or on both sides
    of a write the database took: it failed, another write went through,
    and it failed again, retries and all), goes to `dead_letters` with its
    error, and the writes behind it carry on; `stats().dead` counts them and
    `close()` warns about them.  A write that failed only while the database
    blipped stays queued and is retried, so one outage, however long, never
    turns a good write into a dead letter.
    A queue garbage-collected without `close()` is flushed then (with a
    ResourceWarning), and one still open at exit, or when SIGTERM arrives in
    the main thread (see `install_sigterm_flush`), is flushed then; if the
    database refuses, stderr says how many writes stayed unwritten.  SIGKILL
    and `os._exit()` lose the queue: a queue in memory cannot outlive them.
    """

    # State:
    #   _queue     (key, value) writes not yet in the database, oldest first
    #   _pending   key -> [writes queued, latest value], so a read after an
    #              eviction sees the queued value, not the database's older one
    #   _dead      DeadLetter writes the database refused on their own
    #   _lost      writes crash() dropped
    #   _loading   key -> [reads loading it from the database, writes made meanwhile],
    #              so a read does not cache a value older than a write made during its load
    #   _in_flight the batch the database is writing right now (None between batches)
    #   _in_doubt  the batch the database was writing when crash() came
    #   _cond      guards all of the above and the counts; signals room and work
    #   _flushing  held while a batch is being written, so batches go one at a time
    #   _took      while a failed batch is isolated: how many of its writes the database took
    def __init__(self, cache, load, save_many, *, maxsize=1000, batch_size=50,
                 flush_interval=0.1, retries=5, backoff=0.01, max_backoff=1.0,
                 background=True, clock=time.monotonic, sleep=time.sleep, check=None):
        super().__init__(cache, load)
        self.save_many = check_callable("save_many", save_many)
        check_int("maxsize", maxsize, 1)
        check_int("batch_size", batch_size, 1)
        if batch_size > maxsize:
            raise ValueError(f"batch_size ({batch_size}) must not exceed maxsize ({maxsize})")
        check_int("retries", retries, 0)
        check_seconds("backoff", backoff)
        check_seconds("max_backoff", max_backoff)
        check_seconds("flush_interval", flush_interval, positive=True)
        if not isinstance(background, bool):
            raise TypeError(f"background must be True or False, got {background!r}")
        self.maxsize, self.batch_size, self.flush_interval = maxsize, batch_size, flush_interval
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.clock = check_callable("clock", clock)
        self.sleep = check_callable("sleep", sleep)
        self.check = check if check is None else check_callable("check", check, "store.check_put")
        self.last_error = None
        self._queue = collections.deque()
        self._pending = {}
        self._cond = threading.Condition()
        self._flushing = threading.Lock()
        self._queued = self._flushed = self._retried = self._batches = 0
        self._lost = []
        self._dead = []
        self._loading = {}
        self._in_flight = None
        self._in_doubt = []
        self._closed = self._crashed = False
        self._took = 0
        self._last_flush = clock()
        self._thread = None
        if background:
            self._thread = threading.Thread(target=self._run, name="write-behind", daemon=True)
            self._thread.start()
        _OPEN.add(self)
        install_sigterm_flush()

    # -- the application's side

    def write(self, key, value, *, timeout=None):
        """Put the value in the cache, queue it for the database, and return at once.

        Nothing changes unless the write is accepted: an unhashable key, a
        value `check` refuses, a closed queue or a cache that raises leave
        the queue, the cache and the counts as they were.
        """
        self._check_open()
        try:
            hash(key)
        except TypeError:
            raise TypeError(f"key {key!r} is unhashable ({type(key).__name__}); "
                            "write-behind keys must be hashable, e.g. a tuple instead of a list") from None
        if timeout is not None:
            check_seconds("timeout", timeout)
        if self.check is not None:
            self.check(key, value)  # raises for a write the database could never store
        if self._thread is None and len(self._queue) >= self.maxsize:
            try:
                self._flush_batch()  # back-pressure: with no flusher, the writer pays for a batch
            except Exception as error:
                raise QueueFullError(
                    f"write-behind queue full ({self.maxsize} writes) and the database refused the "
                    f"batch that would make room ({error!r}); the write was not accepted") from error
        # A deadline, not a wait per wake-up: a failing flusher wakes this writer on every retry.
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._check_open()
            while len(self._queue) >= self.maxsize:
                self._cond.notify_all()
                if deadline is None:
                    self._cond.wait()
                elif (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
                else:
                    raise QueueFullError(
                        f"write-behind queue still full ({self.maxsize} writes) after {timeout} s; "
                        "the database is too slow or failing (see last_error)")
                self._check_open()
            put(self.cache, key, value)  # first: if the cache raises, nothing is queued
            self._queue.append((key, value))
            loading = self._loading.get(key)
            if loading is not None:
                loading[1] += 1  # a read loading this key now must not cache what it loads
            slot = self._pending.setdefault(key, [0, None])
            slot[0] += 1
            slot[1] = value
            self._queued += 1
            if len(self._queue) >= self.batch_size:
                self._cond.notify_all()

    def read(self, key):
        """Return the value for key: cache, then the queue, then the database."""
        value = self.cache.get(key, MISSING)
        if value is not MISSING:
            return value
        with self._cond:
            slot = self._pending.get(key)
            if slot is not None:
                put(self.cache, key, slot[1])
                return slot[1]
            loading = self._loading.setdefault(key, [0, 0])
            loading[0] += 1
            writes_before = loading[1]
        value = MISSING
        try:
            value = self.load(key)  # raises before anything is cached
        finally:
            with self._cond:  # one critical section: no write slips in between the check and the put
                loading[0] -= 1
                if not loading[0]:
                    del self._loading[key]
                if value is not MISSING and loading[1] == writes_before:
                    put(self.cache, key, value)
        return value

    def pump(self):
        """Flush full batches, and everything if flush_interval has passed; return writes flushed."""
        done = 0
        while len(self._queue) >= self.batch_size:
            done += self._flush_batch()
        if self._queue and self.clock() - self._last_flush >= self.flush_interval:
            done += self.flush()
        return done

    def flush(self):
        """Write everything queued to the database; return how many writes left the queue."""
        done = 0
        while True:
            n = self._flush_batch()
            if not n:
                return done
            done += n

    def stats(self):
        """Return WriteBehindStats(queued, flushed, retried, unflushed, batches, lost, dead)."""
        with self._cond:
            return WriteBehindStats(self._queued, self._flushed, self._retried,
                                    len(self._queue), self._batches, len(self._lost), len(self._dead))

    @property
    def lost(self):
        """The (key, value) writes a crash() dropped, in the order they were made."""
        return list(self._lost)

    @property
    def in_doubt(self):
        """The writes the database was still writing when crash() came; wait() settles them."""
        with self._cond:
            return list(self._in_doubt)

    def wait(self, timeout=None):
        """Wait until no batch is in the database's hands; return True if none is.

        After crash(), the in-doubt batch then counts as flushed or joins `lost`.
        """
        if timeout is not None:
            check_seconds("timeout", timeout)
        if not self._flushing.acquire(timeout=-1 if timeout is None else timeout):
            return False
        self._flushing.release()
        return True

    @property
    def dead_letters(self):
        """The DeadLetter(key, value, error) writes the database refused, in the order they were made."""
        with self._cond:
            return list(self._dead)

    # -- shutting down, cleanly or not

    def close(self):
        """Refuse new writes, flush everything, and stop the flusher; return the dead letters.

        If the database refused some writes, a RuntimeWarning says how many.
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        self.flush()  # raises if the database keeps failing; the writes stay queued
        _OPEN.discard(self)
        dead = self.dead_letters
        if dead:
            warnings.warn(f"write-behind: the database refused {len(dead)} of {self._queued} writes; "
                          f"they were not stored and are in dead_letters (first error: {dead[0].error!r})",
                          RuntimeWarning, stacklevel=2)
        return dead

    def crash(self):
        """Stop at once, as a killed process would; return the writes that never reached the database.

        It does not wait for a batch the database is writing (the call may
        hang): those writes are `in_doubt`, and once the call returns they
        count as flushed or join `lost` (`wait()` waits for that).
        """
        _OPEN.discard(self)
        with self._cond:
            self._closed = self._crashed = True
            sent = len(self._in_flight or ())
            self._in_doubt = list(self._in_flight or ())
            self._lost.extend(itertools.islice(self._queue, sent, None))
            self._queue.clear()
            self._pending.clear()
            self._cond.notify_all()
        if self._thread is not None and not sent:
            self._thread.join()
        return self.lost

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # Dropped without close(): flush now, so forgetting close() loses nothing.
        if getattr(self, "_closed", True) or not self._queue:
            return
        warnings.warn(f"WriteBehind garbage-collected without close() with {len(self._queue)} writes "
                      "queued; flushing them now", ResourceWarning, source=self)
        # From another thread: the collector may run while this thread holds the database's lock.
        try:
            worker = threading.Thread(target=self._close_unattended, args=("when dropped without close()",),
                                      name="write-behind-finalizer")
            worker.start()
        except RuntimeError:  # the interpreter is shutting down: no new threads
            self._close_unattended("when dropped without close()")
        else:
            worker.join(1.0)  # usually done by then; if not it finishes on its own before exit

    def __repr__(self):
        s = self.stats()
        return (f"WriteBehind(queued={s.queued}, flushed={s.flushed}, unflushed={s.unflushed}, "
                f"dead={s.dead}, batch_size={self.batch_size}, closed={self._closed})")

    # -- the flusher's side

    def _close_unattended(self, when):
        """close() with nobody to raise to: say on stderr what stays unwritten."""
        try:
            self.close()
        except Exception as error:  # the database is down or closed
            print(f"cachelab: write-behind could not flush {self.stats().unflushed} writes {when}: "
                  f"{error!r}", file=sys.stderr)

    def _check_open(self):
        if self._closed:
            raise ClosedError("this write-behind queue is closed; the write was not accepted")

    def _flush_batch(self):
        """Write the oldest batch, retrying with back-off; return how many writes left the queue."""
        with self._flushing:
            with self._cond:
                batch = list(itertools.islice(self._queue, self.batch_size))
                self._in_flight = batch
            if not batch:
                return 0
            outcome = {}  # position -> True (stored) or a DeadLetter; a position not in it stays queued
            try:
                try:
                    self._save_with_retries(self._save_pairs, batch)
                    outcome = dict.fromkeys(range(len(batch)), True)
                except Exception as error:
                    self._isolate(batch, error, outcome)  # raises again if the database looks down
            finally:
                with self._cond:
                    self._in_flight = None
                    done = self._settle(batch, outcome)
            return done

    def _settle(self, batch, outcome):
        """Take the stored and dead writes of a batch off the queue (under _cond); return how many."""
        stored = sum(result is True for result in outcome.values())
        self._flushed += stored
        if self._crashed:  # crash() already emptied the queue: what did not land is lost
            self._lost[0:0] = [write for i, write in enumerate(batch) if outcome.get(i) is not True]
            self._in_doubt = []
            return stored
        for _ in batch:
            self._queue.popleft()
        self._queue.extendleft(reversed([write for i, write in enumerate(batch) if i not in outcome]))
        for i, (key, _) in enumerate(batch):
            if i not in outcome:
                continue
            slot = self._pending[key]
            slot[0] -= 1
            if not slot[0]:
                del self._pending[key]
                if outcome[i] is not True:  # the cache must not keep a value that was never stored
                    self.cache.pop(key, None)
        dead = [result for result in outcome.values() if result is not True]
        self._dead.extend(dead)
        if outcome:
            self._batches += 1
        self._last_flush = self.clock()
        self._cond.notify_all()  # room for writers waiting on a full queue
        return stored + len(dead)

    def _isolate(self, batch, error, outcome):
        """The batch keeps failing: try its writes one at a time, filling outcome.

        A write is set aside as a DeadLetter only if it fails for what it is:
        with an error about the data, or on both sides of a write the database
        took (it failed, another write went through, and it failed again,
        retries and all).  Without that evidence, as when the database blipped,
        it stays queued at the head (with the later writes to its key, to keep
        their order) and is tried again with the next batch.  If no write
        went through and none was set aside, the database looks down:
        `error` is raised again.
        """
        self._took = 0
        failed_at = {}  # position -> writes the database had taken when this one failed
        waiting = set()  # keys with an earlier unresolved write: their later writes wait, to keep order
        for i, (key, value) in enumerate(batch):
            if key not in waiting and not self._try(i, key, value, outcome, failed_at, self._save_one):
                waiting.add(key)
        kept = set()  # keys with a write that stays queued
        for i, (key, value) in enumerate(batch):
            if i in outcome or key in kept:
                continue
            tried_before = i in failed_at
            if tried_before and failed_at[i] == self._took:
                kept.add(key)  # nothing went through since it failed: no evidence yet
            elif not self._try(i, key, value, outcome, failed_at, self._save_with_retries, self._save_one):
                if tried_before:  # fail, success, fail: refused for what it is
                    outcome[i] = DeadLetter(key, value, self.last_error)
                else:
                    kept.add(key)
        if not outcome:
            raise error

    def _try(self, i, key, value, outcome, failed_at, save, *how):
        """Save one write, recording its outcome; False if it failed with an error not about the data."""
        try:
            save(*how, key, value)
        except _DATA_ERRORS as bad:  # json could not encode it: no retry can help
            outcome[i] = DeadLetter(key, value, bad)
        except Exception as refused:
            self.last_error = refused
            failed_at[i] = self._took
            return False
        else:
            outcome[i] = True
        return True

    def _save_one(self, key, value):
        self._save_pairs([(key, value)])
        self._took += 1

    def _save_pairs(self, pairs):
        if self._crashed:  # a killed process makes no more calls
            raise ClosedError("write-behind crashed; the write was not sent")
        self.save_many(pairs)

    def _save_with_retries(self, save, *args):
        for attempt in range(self.retries + 1):
            try:
                save(*args)
                return
            except Exception as error:  # the database's errors are its own types
                self.last_error = error
                if attempt == self.retries or isinstance(error, _DATA_ERRORS) or self._crashed:
                    raise  # retrying cannot fix bad data
                with self._cond:
                    self._retried += 1
                self.sleep(min(self.backoff * 2 ** attempt, self.max_backoff))

    def _run(self):
        while True:
            with self._cond:
                if not self._closed and len(self._queue) < self.batch_size:
                    self._cond.wait(self.flush_interval)
                if self._closed:
                    return  # close() flushes what is left; crash() drops it
            try:
                self.flush()
            except Exception:
                # The batch stays queued; wait a while, then try again.
                with self._cond:
                    self._cond.wait(self.max_backoff)
