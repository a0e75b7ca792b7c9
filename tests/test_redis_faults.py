"""RedisCache under faults: a real Valkey behind a TCP proxy that refuses or swallows traffic,
hung (SIGSTOP), killed and restarted, with 10 threads.

The races are forced, not slept for: a real redis-py client runs a hook just
before it sends a command (an Event or a Barrier holds it there), and a
FakeClock decides when a back-off ends.  The fault schedule waits for what
the cache reports (its breaker open, its skipped keys deleted), never for a
time, so a slow machine makes a test slower, not flaky.
"""

import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cachelab import FakeClock
from cachelab.lab.proxy import TCPProxy
from cachelab.patterns import WriteThrough
from cachelab.redis import RedisCache, redis_server
from waiting import wait_until


class HookedRedis(redis.Redis):
    """A real client that calls hooks[command]() just before it sends it ("PIPELINE": a pipeline)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hooks = {}

    def _hook(self, command):
        hook = self.hooks.get(command)
        if hook is not None:
            hook()

    def execute_command(self, *args, **options):
        self._hook(args[0])
        return super().execute_command(*args, **options)

    def pipeline(self, *args, **kwargs):
        pipe = super().pipeline(*args, **kwargs)
        execute = pipe.execute

        def hooked(*a, **k):
            self._hook("PIPELINE")
            return execute(*a, **k)

        pipe.execute = hooked
        return pipe


def hooked_client(url, timeout=1.0):
    """The client RedisCache makes from a URL (bounded timeouts, no retries), with hooks."""
    return HookedRedis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                retry=Retry(NoBackoff(), 0), health_check_interval=0)


def counter(client, command):
    """Count the commands of one kind the client sends from now on."""
    sent = []
    client.hooks[command] = lambda: sent.append(1)
    return sent


def once(hook):
    """A hook that runs the first time only."""
    done = []

    def run():
        if not done:
            done.append(1)
            hook()

    return run


def in_threads(n, func):
    """Run func(i) in n threads at once (a barrier lines them up); return results or exceptions."""
    out, start = [None] * n, threading.Barrier(n)

    def run(i):
        start.wait()
        try:
            out[i] = func(i)
        except Exception as error:  # noqa: BLE001 - the test asserts none reaches a caller
            out[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return out


@pytest.fixture
def proxy(server):
    with TCPProxy(server.port) as proxy:
        yield proxy


def prefix():
    return f"fault:{uuid.uuid4().hex[:8]}:"


# -- section 3: the circuit breaker, forced into the interleavings that broke it

def test_one_thread_probes_and_no_reader_overtakes_its_deletes(proxy):
    """Several probers once found the dirty set empty, PINGed, closed and read the old value."""
    clock, client = FakeClock(), hooked_client(proxy.url())
    cache = RedisCache(client, prefix=prefix(), clock=clock, background=False)
    cache["k"] = "old"
    with proxy.faulted("refuse"):
        assert cache.pop("k", "db") == "db"  # the delete is skipped: "old" is still on the server
    assert cache.pending == 1 and not cache.available
    clock.tick(cache.backoff)

    in_probe, release = threading.Event(), threading.Event()
    client.hooks["PIPELINE"] = once(lambda: (in_probe.set(), release.wait(10)))
    pings = counter(client, "PING")
    prober = []
    thread = threading.Thread(target=lambda: prober.append(cache.get("k", "db")))
    thread.start()
    assert in_probe.wait(10)  # the probe is about to send its UNLINK
    readers = in_threads(8, lambda i: cache.get("k", "db"))
    assert readers == ["db"] * 8 and not pings  # nobody else probed, nobody read "old"
    release.set()
    thread.join(10)
    assert prober == ["db"] and cache.available and cache.get("k", "db") == "db"


def test_no_request_meets_the_breaker_half_closed(proxy):
    """A request that saw the breaker open, then met it closed, raised `float < NoneType`."""
    fake, hook = FakeClock(), []

    def clock():
        if hook:
            hook.pop()()
        return fake()

    cache = RedisCache(proxy.url(), prefix=prefix(), clock=clock, timeout=1.0, background=False)
    with proxy.faulted("refuse"):
        cache.get("k")
    fake.tick(cache.backoff)
    late = []
    other = threading.Thread(target=lambda: late.append(_quietly(cache.get, "k", "db")))

    def let_the_late_request_in():  # while the prober reads the clock, another request arrives
        other.start()
        other.join(0.2)

    hook.append(let_the_late_request_in)
    assert cache.get("k", "db") == "db"  # this request probes and closes the breaker
    other.join(10)
    assert late == ["db"] and cache.available


def _quietly(func, *args):
    try:
        return func(*args)
    except Exception as error:  # noqa: BLE001
        return error


def test_the_back_off_starts_at_backoff_and_doubles_once_per_failed_probe(proxy):
    """Six requests meeting one blip used to double the back-off six times (16 s for 50 ms)."""
    clock, client = FakeClock(), hooked_client(proxy.url())
    cache = RedisCache(client, prefix=prefix(), clock=clock, backoff=0.5, max_backoff=4,
                       background=False)
    gate = threading.Barrier(6)
    client.hooks["GET"] = lambda: gate.wait(10)  # six GETs in flight when the server goes
    with proxy.faulted("refuse"):
        assert in_threads(6, lambda i: cache.get(f"k{i}", "db")) == ["db"] * 6
        del client.hooks["GET"]
        assert (cache.stats().errors, cache.stats().outages) == (6, 1)
        for wait in [0.5, 1.0, 2.0, 4.0, 4.0]:
            sent = cache.stats().errors
            clock.tick(wait - 0.01)
            assert [cache.get("k", "db") for _ in range(20)] == ["db"] * 20
            assert cache.stats().errors == sent  # nothing sent during the back-off
            clock.tick(0.01)
            assert cache.get("k", "db") == "db"
            assert cache.stats().errors == sent + 1  # one probe, failed: the back-off doubles
    clock.tick(4.0)
    cache["k"] = 1
    assert cache.get("k") == 1 and cache.available and cache.stats().outages == 1


def test_hits_resume_one_probe_after_the_back_off_of_a_short_blip(proxy):
    clock, client = FakeClock(), hooked_client(proxy.url())
    cache = RedisCache(client, prefix=prefix(), clock=clock, backoff=0.5, background=False)
    cache.set_many({f"k{i}": i for i in range(8)})
    with proxy.faulted("refuse"):
        assert cache.get("k0", "db") == "db"  # the blip meets one request
    assert in_threads(8, lambda i: cache.get(f"k{i}", "db")) == ["db"] * 8  # backing off
    pings = counter(client, "PING")
    clock.tick(0.5)
    first = in_threads(8, lambda i: cache.get(f"k{i}", "db"))
    assert len(pings) == 1 and cache.available  # one probe closed it...
    assert all(value in (i, "db") for i, value in enumerate(first))
    assert in_threads(8, lambda i: cache.get(f"k{i}", "db")) == list(range(8))  # ...and all hit


def test_a_skipped_set_many_counts_each_key(proxy):
    cache = RedisCache(proxy.url(), prefix=prefix(), timeout=1.0, background=False)
    with proxy.faulted("refuse"):
        cache.set_many({f"k{i}": i for i in range(5)})
    assert cache.stats().skipped_writes == 5 and cache.pending == 5


# -- section 2: an invalidation survives the blip

def test_a_skipped_delete_is_retried_in_the_background_without_another_request(server, proxy):
    """Before, only this instance's next request retried; an idle writer left it stale for good."""
    p = prefix()
    writer = RedisCache(proxy.url(), prefix=p, backoff=0.05, timeout=1.0)
    reader = RedisCache(server.url, prefix=p, timeout=1.0)  # another process, straight to Redis
    writer["k"] = "old"
    with proxy.faulted("refuse"):
        writer.pop("k")
    assert reader.get("k") == "old"  # stale for everyone else until the retry
    wait_until(lambda: writer.pending == 0, "the background retry")  # the writer sends nothing
    assert reader.get("k", "db") == "db" and writer.available
    reader.clear()


def test_write_through_over_redis_serves_the_new_value_after_a_blip(server, proxy):
    """WriteThrough over Redis served the old value in 20 of 20 reads after a blip."""
    p, db = prefix(), {"price:1": 999}
    writer = WriteThrough(RedisCache(proxy.url(), prefix=p, backoff=0.05, timeout=1.0, ttl=60),
                          db.get, db.__setitem__)
    other = WriteThrough(RedisCache(server.url, prefix=p, timeout=1.0, ttl=60), db.get,
                         db.__setitem__)
    assert other.read("price:1") == 999  # cached
    with proxy.faulted("refuse"):
        writer.write("price:1", 949)  # the database has it; the cache write is skipped
    wait_until(lambda: writer.cache.pending == 0, "the background retry")
    assert [other.read("price:1") for _ in range(20)] == [949] * 20
    assert other.cache.client.pttl(other.cache.name_of("price:1")) > 0  # bounded by the ttl
    other.cache.clear()


def test_close_tries_once_more_then_logs_every_key_it_could_not_invalidate(server, proxy, caplog):
    p = prefix()
    cache = RedisCache(proxy.url(), prefix=p, timeout=1.0, background=False)
    cache["a"], cache[("b", 1)], cache["c"] = 1, 2, 3
    with proxy.faulted("refuse"):
        cache.pop("a")
        cache[("b", 1)] = 20
        with caplog.at_level(logging.ERROR, logger="cachelab.redis"):
            assert sorted(cache.close(), key=repr) == sorted(["a", ("b", 1)], key=repr)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "'a'" in record.message and "('b', 1)" in record.message and "2 key(s)" in record.message
    RedisCache(server.url, prefix=p).clear()

    again = RedisCache(proxy.url(), prefix=p, timeout=1.0, background=False, clock=FakeClock())
    again["a"] = 1
    with proxy.faulted("refuse"):
        again.pop("a")
    with caplog.at_level(logging.ERROR, logger="cachelab.redis"):
        assert again.close() == []  # reachable again, back-off or not: deleted on the way out
    assert RedisCache(server.url, prefix=p).get("a", "gone") == "gone"


def test_at_interpreter_exit_skipped_deletes_are_sent_or_logged_at_error(server):
    """A process that skips a delete and exits before its next request leaves nothing stale
    behind silently: the delete goes out at exit, or every key left stale is logged."""
    p = prefix()
    script = textwrap.dedent(f"""
        from cachelab.lab.proxy import TCPProxy
        from cachelab.redis import RedisCache
        healed, broken = TCPProxy({server.port}), TCPProxy({server.port})
        cache = RedisCache(healed.url(), prefix={p!r}, timeout=1.0, backoff=60)
        stranded = RedisCache(broken.url(), prefix={p!r}, timeout=1.0, backoff=60)
        cache["k"] = stranded["s"] = "old"
        with healed.faulted("refuse"):
            cache.pop("k")
        broken.mode = "refuse"  # still down when the process exits
        stranded.pop("s")
        assert cache.pending == stranded.pending == 1
    """)  # the back-off is far off and no request follows: only the exit handler is left
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "could not invalidate 1 key(s) on exit" in out.stderr and ": 's'" in out.stderr, out.stderr
    direct = RedisCache(server.url, prefix=p)
    assert (direct.get("k", "gone"), direct.get("s")) == ("gone", "old"), out.stderr
    direct.clear()


def test_a_forked_worker_retries_the_skipped_deletes_it_inherited(proxy):
    """A worker forked while a delete waits gets a copy of the cache but not its threads."""
    cache = RedisCache(proxy.url(), prefix=prefix(), backoff=0.05, timeout=1.0)
    cache["k"] = "old"
    with proxy.faulted("refuse"):
        cache.pop("k")
        pid = os.fork()
        if pid == 0:  # the worker: its own copy must retry in its own background thread
            code = 1
            try:
                deadline = time.monotonic() + 20
                while cache.pending and time.monotonic() < deadline:
                    time.sleep(0.005)
                code = 0 if not cache.pending else 1
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    cache.close()


def test_more_skipped_keys_than_it_remembers_clear_the_whole_prefix_before_it_closes(server, proxy):
    """The memory of skipped keys is bounded: past MAX_DIRTY the prefix is cleared instead."""
    clock, p = FakeClock(), prefix()
    cache = RedisCache(proxy.url(), prefix=p, timeout=1.0, clock=clock, background=False)
    cache.MAX_DIRTY = 3
    cache.set_many({f"k{i}": i for i in range(6)})
    with proxy.faulted("refuse"):
        for i in range(4):
            cache.pop(f"k{i}")
    assert cache.pending == 1 and cache.stats().skipped_writes == 4  # one pending clear
    clock.tick(cache.backoff)
    assert cache.retry() == 0 and cache.available
    assert RedisCache(server.url, prefix=p).get_many(["k0", "k5"], "gone") == ["gone", "gone"]


def test_clear_that_cannot_reach_the_server_raises_keeps_the_counts_and_clears_on_recovery(
        server, proxy):
    clock, p = FakeClock(), prefix()
    cache = RedisCache(proxy.url(), prefix=p, timeout=1.0, clock=clock, background=False)
    cache["k"] = 1
    assert cache.get("k") == 1
    with proxy.faulted("refuse"):
        with pytest.raises(ConnectionError, match=rf"cache '{p}' could not be cleared"):
            cache.clear()
    assert cache.stats().hits == 1  # not reset: nothing was cleared
    assert RedisCache(server.url, prefix=p).get("k") == 1
    clock.tick(cache.backoff)
    assert cache.retry() == 0
    assert RedisCache(server.url, prefix=p).get("k", "gone") == "gone"


# -- the fault schedule: 4 writers and 6 readers through each kind of fault

class Workload:
    """Writers bump a key's version in the "database", then write it through or delete it;
    readers check that a hit is never older than the last write that had returned."""

    WRITERS, READERS, KEYS = 4, 6, 40

    def __init__(self, cache, seed):
        self.cache, self.seed = cache, seed
        self.version = dict.fromkeys(range(self.KEYS), 0)
        self.done = dict.fromkeys(range(self.KEYS), 0)  # the last version whose write returned
        self.stale, self.errors, self.reads = [], [], 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._write, args=(w,))
                        for w in range(self.WRITERS)]
        self.threads += [threading.Thread(target=self._read, args=(r,))
                         for r in range(self.READERS)]

    def _write(self, w):
        rng = random.Random(self.seed * 100 + w)
        mine = [k for k in range(self.KEYS) if k % self.WRITERS == w]  # one writer per key
        while not self.stop.is_set():
            key = rng.choice(mine)
            self.version[key] += 1
            try:
                if rng.random() < 0.5:
                    self.cache.set(key, self.version[key])  # write-through
                else:
                    self.cache.pop(key)  # delete after write
            except Exception as error:  # noqa: BLE001
                self.errors.append(error)
            self.done[key] = self.version[key]

    def _read(self, r):
        rng = random.Random(self.seed * 100 + 50 + r)
        while not self.stop.is_set():
            key = rng.randrange(self.KEYS)
            floor = self.done[key]
            try:
                value = self.cache.get(key)
            except Exception as error:  # noqa: BLE001
                self.errors.append(error)
                continue
            self.reads += 1
            if value is not None and value < floor:
                self.stale.append((key, value, floor))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)


def _hang(server):
    os.kill(server.pid, signal.SIGSTOP)
    return lambda: os.kill(server.pid, signal.SIGCONT)


def _kill(server):
    os.kill(server.pid, signal.SIGKILL)
    return server.start


def _proxy_mode(mode):
    def fault(server, proxy):
        proxy.mode = mode
        return lambda: setattr(proxy, "mode", "pass")
    return fault


FAULTS = {
    "refuse": _proxy_mode("refuse"),
    "swallow": _proxy_mode("swallow"),
    "hang": lambda server, proxy: _hang(server),
    "kill": lambda server, proxy: _kill(server),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_no_read_after_recovery_returns_a_value_whose_invalidation_was_skipped(fault, caplog):
    with redis_server(embedded=True) as server, TCPProxy(server.port) as proxy:
        cache = RedisCache(proxy.url(), prefix=prefix(), timeout=0.1, backoff=0.05,
                           max_backoff=0.2)
        with caplog.at_level(logging.CRITICAL, logger="cachelab.redis"), \
                Workload(cache, seed=sorted(FAULTS).index(fault)) as work:
            for cycle in range(3):
                writes = cache.stats().writes
                wait_until(lambda: cache.stats().writes > writes + 50, "writes before the fault")
                skipped = cache.stats().skipped_writes
                heal = FAULTS[fault](server, proxy)
                try:
                    wait_until(lambda: cache.stats().skipped_writes > skipped + 20, "skipped writes")
                finally:
                    heal()
                wait_until(lambda: cache.available and cache.pending == 0, "recovery")
                hits = cache.stats().hits
                wait_until(lambda: cache.stats().hits > hits + 50, "hits after recovery")
        cache.close()
        s = cache.stats()
        assert work.errors == []  # no exception reached a caller
        assert work.stale == []  # no read returned a value whose write or delete was skipped
        assert s.outages >= 3 and s.skipped_writes > 60 and work.reads > 300
