"""Near caches side by side, with a second process writing: how fresh, how fast, what it costs.

One run of `near_table(url)` measures, for each scheme in `SCHEMES` (a
plain `TwoLevelCache` with a 1 s near TTL, `PubSubNearCache`, and
`TrackingNearCache` in default and broadcasting mode):

* the near hit's latency, against a hit in a plain in-process `LRUCache`;
* staleness: after the writer process's write returns, how long this
  process still reads the old value (one hot key, polled);
* stale reads per 10k reads over 100 keys while the writer writes 1% as
  often as this process reads;
* messages (or pushes) this process received per write;
* a dropped connection: this process's traffic goes through a `TCPProxy`
  that refuses everything for 1 s while the writer keeps writing; stale
  reads during the drop, and after the near cache is live again.

The writer is a real second Python process (a subprocess), writing
through a cache of the same scheme; both processes log times on the
system's monotonic clock, which they share, and the counts come from
comparing the logs: a read is stale when it returns a version older than
one whose write had returned before the read began.

`stale_reads(url, make)` is the same harness for one reader cache built by
`make(far)`, e.g. a learner's own pub/sub handler, against a pub/sub writer.
"""

import collections
import json
import os
import pathlib
import random
import subprocess
import sys
import time
import uuid

from cachelab import LRUCache, TTLCache
from cachelab.redis import PubSubNearCache, RedisCache, TrackingNearCache, TwoLevelCache

from .._checks import check_choice, check_int, check_seconds
from .proxy import TCPProxy

__all__ = ["NearRow", "SCHEMES", "StaleRun", "WriterProcess", "format_near_table",
           "format_tracking_memory", "make_near", "near_hit_latency", "near_table", "near_tables",
           "percentiles", "stale_reads", "staleness",
           "tracking_memory"]

MISS = -1      # what a read returns when neither level has the key (Redis unreachable)
NEAR_TTL = 1.0  # the plain two-level cache's near TTL: its bound on staleness

SCHEMES = {
    "two-level (TTL 1 s)": lambda far: TwoLevelCache(TTLCache(maxsize=10_000, ttl=NEAR_TTL), far),
    "pub/sub": lambda far: PubSubNearCache(LRUCache(maxsize=10_000), far),
    "tracking": lambda far: TrackingNearCache(LRUCache(maxsize=10_000), far),
    "tracking BCAST": lambda far: TrackingNearCache(LRUCache(maxsize=10_000), far, bcast=True),
}

StaleRun = collections.namedtuple(
    "StaleRun", "reads writes stale late_stale per_10k messages_per_write near_hits flushes")
StaleRun.__doc__ = (
    "One run of reads against another process's writes: reads made, writes made, stale reads, "
    "stale reads more than `late` seconds after the write, stale reads per 10k, messages this "
    "process received per write, the share of reads served from near, and how many times near "
    "was emptied (a handler that fails, or drops everything, empties it on every message).")

NearRow = collections.namedtuple(
    "NearRow", "scheme hit_p50_us hit_p99_us plain_p50_us stale_p50_ms stale_p99_ms stale_max_ms "
               "stale_per_10k messages_per_write drop_stale drop_stale_after drop_near_share")
NearRow.__doc__ = (
    "One scheme's row: near-hit p50/p99 in µs and a plain LRUCache hit's p50 timed alongside; "
    "staleness after another process's write, p50/p99/max in ms; stale reads per 10k at 1% "
    "writes; messages per write; and with the connection refused for 1 s: stale reads during "
    "it, reads once live again older than a write made before then (a copy the drop left "
    "behind), and the share of reads near served while down.")


def make_near(scheme, url, prefix, **far_options):
    """The cache of `scheme` (a name in SCHEMES) over a RedisCache at url under prefix."""
    check_choice("scheme", scheme, SCHEMES)
    far_options.setdefault("timeout", 1.0)
    return SCHEMES[scheme](RedisCache(url, prefix=prefix, **far_options))


def _close(cache):
    if hasattr(cache, "close"):
        cache.close()


def percentiles(values, *quantiles):
    """The given quantiles (0-1) of values, nearest rank; NaN for none."""
    ordered = sorted(values)
    if not ordered:
        return tuple(float("nan") for _ in quantiles)
    return tuple(ordered[min(len(ordered) - 1, int(len(ordered) * q))] for q in quantiles)


# -- the writer process ------------------------------------------------------------------------

def _writer_main():
    """In the second process: build a cache of the scheme, wait for the start time, write the plan.

    stdin: one JSON line {url, prefix, scheme, plan: [[offset s, key, version]]}, then the start
    time; stdout: "ready", then a JSON list of [key, version, time the write returned].
    """
    job = json.loads(sys.stdin.readline())
    cache = make_near(job["scheme"], job["url"], job["prefix"])
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    done = []
    for offset, key, version in job["plan"]:
        _sleep_until(start + offset)
        cache[key] = version
        done.append((key, version, time.monotonic()))
    _close(cache)
    print(json.dumps(done), flush=True)


def _sleep_until(deadline):
    # Short sleeps, so the caller's listener thread gets the interpreter meanwhile.
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.0005))


class WriterProcess:
    """A second Python process writing `plan` through a cache of `scheme`; start() then results().

    A plain subprocess rather than multiprocessing: spawn would re-run the
    caller's main script, and fork would copy this process's listener threads.
    """

    def __init__(self, url, prefix, scheme, plan):
        root = pathlib.Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from cachelab.lab.near_experiments import _writer_main; _writer_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.process.stdin.write(json.dumps(dict(url=url, prefix=prefix, scheme=scheme, plan=plan)) + "\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ready":
            self.process.kill()
            raise RuntimeError("the writer process did not start")

    def start(self, delay=0.05):
        """Tell the writer to begin `delay` s from now; return that time."""
        start = time.monotonic() + delay
        self.process.stdin.write(f"{start!r}\n")
        self.process.stdin.flush()
        return start

    def results(self, timeout=60):
        """[(key, version, time the write returned)], once the writer is done."""
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise RuntimeError("the writer process did not finish") from None
        return [tuple(d) for d in json.loads(out.strip().splitlines()[-1])]


def _write_plan(keys, writes, duration, rng):
    """`writes` writes spread evenly over duration, to keys drawn from rng, versions 1, 2, ... per key."""
    versions = collections.Counter()
    plan = []
    for i in range(writes):
        key = keys[rng.randrange(len(keys))]
        versions[key] += 1
        plan.append(((i + 0.5) * duration / writes, key, versions[key]))
    return plan


def _seed(cache, keys):
    """Version 0 of every key, written straight to Redis."""
    for key in keys:
        cache[key] = 0


# -- reading and judging --------------------------------------------------------------------------

def _read_plan(cache, keys, reads, duration, start, rng, during=None):
    """Read keys drawn from rng at an even pace from start; return [(start time, key, version)].

    `during(i)` is called before read i (to fault the connection at a chosen read).
    """
    log = []
    step = duration / reads
    for i in range(reads):
        if during is not None:
            during(i)
        key = keys[rng.randrange(len(keys))]
        _sleep_until(start + i * step)
        began = time.monotonic()
        log.append((began, key, cache.get(key, MISS)))
    return log


def _judge(reads, done, late):
    """(stale reads, stale reads more than `late` s after the write that made them stale)."""
    by_key = collections.defaultdict(list)
    for key, version, at in sorted(done, key=lambda d: d[2]):
        by_key[key].append((at, version))
    stale = late_stale = 0
    for began, key, version in reads:
        if version == MISS:
            continue  # Redis was unreachable: a miss, which goes to the database
        newest = None
        for at, written in by_key.get(key, ()):
            if at > began:
                break
            newest = (at, written)
        if newest is not None and version < newest[1]:
            stale += 1
            # the age of the staleness: since the first write newer than what was read
            first = next(at for at, written in by_key[key] if written > version)
            late_stale += began - first > late
    return stale, late_stale


def stale_reads(url, make=None, *, scheme="pub/sub", writer=None, reads=10_000, write_share=0.01,
                keys=100, duration=2.0, late=0.1, seed=0):
    """Read `reads` times over `keys` keys from `make(far)` while another process writes.

    The writer process writes `write_share` x reads times through a cache of
    `writer` (default: `scheme`); `make` defaults to the scheme's own cache.
    Returns a StaleRun: a correct near cache has no late stale reads, and
    stale reads only in the moment a message is in flight.
    """
    check_choice("scheme", scheme, SCHEMES)
    writer = check_choice("writer", writer or scheme, SCHEMES)
    reads = check_int("reads", reads, 1)
    keys = check_int("keys", keys, 1)
    duration = check_seconds("duration", duration, positive=True, finite=True)
    late = check_seconds("late", late)
    prefix = f"cachelab-near:{uuid.uuid4().hex[:8]}:"
    rng = random.Random(seed)
    names = [f"item:{i}" for i in range(keys)]
    far = RedisCache(url, prefix=prefix, timeout=1.0)
    _seed(far, names)
    cache = (make or SCHEMES[scheme])(far)
    try:
        plan = _write_plan(names, max(1, round(reads * write_share)), duration, rng)
        process = WriterProcess(url, prefix, writer, plan)
        start = process.start()
        log = _read_plan(cache, names, reads, duration, start, rng)
        done = process.results()
        stale, late_stale = _judge(log, done, late)
        stats = cache.stats()
        return StaleRun(len(log), len(done), stale, late_stale, stale * 10_000 / len(log),
                        stats.get("messages", 0) / len(done), stats["near_hits"] / len(log),
                        stats.get("flushes", 0))
    finally:
        _close(cache)
        far.clear()


def _near_hits(cache):
    stats = cache.stats()
    return stats.get("near_hits", 0)


def staleness(url, scheme, *, writes=100, interval=0.02, poll=0.0002):
    """Milliseconds from each write (in another process) to this process reading it: p50, p99, max.

    One hot key, polled every `poll` seconds while the writer process writes
    it every `interval` seconds.
    """
    check_choice("scheme", scheme, SCHEMES)
    writes = check_int("writes", writes, 1)
    interval = check_seconds("interval", interval, positive=True, finite=True)
    poll = check_seconds("poll", poll, positive=True, finite=True)
    prefix = f"cachelab-near:{uuid.uuid4().hex[:8]}:"
    far = RedisCache(url, prefix=prefix, timeout=1.0)
    cache = SCHEMES[scheme](far)
    try:
        far["hot"] = 0
        cache.get("hot")
        plan = [((i + 0.5) * interval, "hot", i + 1) for i in range(writes)]
        process = WriterProcess(url, prefix, scheme, plan)
        start = process.start()
        end = start + writes * interval + 2 * NEAR_TTL  # time for the last write to show
        seen = {}
        newest = 0
        while newest < writes and time.monotonic() < end:
            began = time.monotonic()
            version = cache.get("hot", 0)
            if version > newest:
                for v in range(newest + 1, version + 1):
                    seen[v] = began
                newest = version
            time.sleep(poll)
        done = {version: at for _, version, at in process.results()}
        lags = [max(0.0, seen.get(v, end) - at) * 1000 for v, at in done.items()]
        return percentiles(lags, 0.5, 0.99, 1.0)
    finally:
        _close(cache)
        far.clear()


def near_hit_latency(url, scheme, *, n=20_000, keys=100):
    """Near-hit latency p50 and p99 in µs for `scheme`, and for a plain in-process LRUCache hit."""
    check_choice("scheme", scheme, SCHEMES)
    n = check_int("n", n, 1)
    prefix = f"cachelab-near:{uuid.uuid4().hex[:8]}:"
    far = RedisCache(url, prefix=prefix, timeout=1.0)
    cache = SCHEMES[scheme](far)
    plain = LRUCache(maxsize=10_000)
    names = [f"item:{i}" for i in range(keys)]
    try:
        _seed(far, names)
        for name in names:
            plain[name] = 0
            cache.get(name)  # now a near hit
        order = [names[i % keys] for i in range(n)]
        return _latencies(cache, order), _latencies(plain, order)
    finally:
        _close(cache)
        far.clear()


def _latencies(cache, order):
    clock, get = time.perf_counter_ns, cache.get
    times = []
    for key in order:
        began = clock()
        get(key)
        times.append(clock() - began)
    return tuple(t / 1000 for t in percentiles(times, 0.5, 0.99))


def _dropped(url, scheme, *, reads=2000, keys=100, duration=2.0, down=1.0, seed=1):
    """Stale reads while this process's connections are refused for `down` s, and after.

    Returns (stale reads during the drop; reads once live again that are older than a write made
    before then, i.e. a copy the drop left behind; the share of reads near served while down).
    """
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    prefix = f"cachelab-near:{uuid.uuid4().hex[:8]}:"
    names = [f"item:{i}" for i in range(keys)]
    rng = random.Random(seed)
    far = RedisCache(url, prefix=prefix, timeout=1.0)
    _seed(far, names)
    with TCPProxy(port) as proxy:
        cache = SCHEMES[scheme](RedisCache(proxy.url(), prefix=prefix, timeout=0.2, backoff=0.05,
                                           max_backoff=0.1))
        try:
            for name in names:
                cache.get(name)
            plan = _write_plan(names, max(1, reads // 100), duration, rng)
            process = WriterProcess(url, prefix, scheme, plan)
            start = process.start()
            cut, back = round(reads / duration * 0.5), round(reads / duration * (0.5 + down))
            marks = {}

            def during(i):
                if i == cut:
                    marks["cut"] = time.monotonic()
                    proxy.mode = "refuse"
                    marks["hits"] = _near_hits(cache)
                elif i == back:
                    proxy.mode = "pass"
                    marks["hits"] = (_near_hits(cache) - marks["hits"]) / (back - cut)
                elif i > back and "live" not in marks and getattr(cache, "live", True):
                    marks["live"] = time.monotonic()

            log = _read_plan(cache, names, reads, duration, start, rng, during)
            done = process.results()
            live = marks.get("live", float("inf"))
            down_log = [r for r in log if marks["cut"] <= r[0] < live]
            after = [r for r in log if r[0] >= live]
            # Once live again, a copy the drop left behind is older than a write made before then;
            # a write after it can only be in flight, which stale/10k counts.
            before_live = [d for d in done if d[2] < live]
            return (_judge(down_log, done, 0)[0], _judge(after, before_live, 0)[0], marks["hits"])
        finally:
            _close(cache)
            far.clear()


def tracking_memory(url, *, keys=10_000, readers=1):
    """What tracking costs the server: INFO's tracking counts and used_memory after reading `keys`
    keys through `readers` caches in each mode; {mode: {field: value}}."""
    import redis

    keys = check_int("keys", keys, 1)
    readers = check_int("readers", readers, 1)
    admin = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    out = {}
    for mode, bcast in (("default", False), ("BCAST", True)):
        prefix = f"cachelab-near:{uuid.uuid4().hex[:8]}:"
        far = RedisCache(url, prefix=prefix, timeout=1.0)
        names = [f"item:{i}" for i in range(keys)]
        far.set_many({name: 0 for name in names})
        before = admin.info("memory")["used_memory"]
        caches = [TrackingNearCache(LRUCache(maxsize=keys), far, bcast=bcast) for _ in range(readers)]
        try:
            for cache in caches:
                for name in names:
                    cache.get(name)
            info = admin.info()
            out[mode] = {
                "tracking_total_keys": info.get("tracking_total_keys", 0),
                "tracking_total_items": info.get("tracking_total_items", 0),
                "tracking_total_prefixes": info.get("tracking_total_prefixes", 0),
                "used_memory_delta": admin.info("memory")["used_memory"] - before,
            }
        finally:
            for cache in caches:
                cache.close()
            far.clear()
    return out


def near_table(url, *, schemes=tuple(SCHEMES), reads=10_000, duration=2.0, writes=200,
               interval=0.02, drop=True):
    """One NearRow per scheme, each measured against a second process writing."""
    rows = []
    for scheme in schemes:
        hit, plain = near_hit_latency(url, scheme)
        stale = staleness(url, scheme, writes=writes, interval=interval)
        run = stale_reads(url, scheme=scheme, reads=reads, duration=duration)
        dropped = _dropped(url, scheme) if drop else (None, None, None)
        rows.append(NearRow(scheme, *hit, plain[0], *stale, run.per_10k, run.messages_per_write,
                            *dropped))
    return rows


def format_near_table(rows):
    """The table as text, one line per scheme."""
    lines = [f"{'scheme':20} {'hit p50/p99 µs':>14} {'x plain':>7} {'stale p50/p99/max ms':>21} "
             f"{'stale/10k':>9} {'msg/write':>9}  1 s drop: stale during / after, near served"]
    for r in rows:
        drop = "" if r.drop_stale is None else (
            f"{r.drop_stale:5d} / {r.drop_stale_after:<5d} {r.drop_near_share:6.0%} of reads")
        lines.append(f"{r.scheme:20} {r.hit_p50_us:6.2f}/{r.hit_p99_us:<7.2f} "
                     f"{r.hit_p50_us / r.plain_p50_us:6.1f}x "
                     f"{r.stale_p50_ms:7.1f}/{r.stale_p99_ms:6.1f}/{r.stale_max_ms:6.1f} "
                     f"{r.stale_per_10k:9.1f} {r.messages_per_write:9.2f}  {drop}")
    return "\n".join(lines)


def format_tracking_memory(memory):
    """tracking_memory()'s result as lines: what each mode keeps on the server."""
    lines = [f"{'tracking mode':14} {'keys':>7} {'items':>7} {'prefixes':>8} {'used_memory +':>14}"]
    for mode, m in memory.items():
        lines.append(f"{mode:14} {m['tracking_total_keys']:7d} {m['tracking_total_items']:7d} "
                     f"{m['tracking_total_prefixes']:8d} {m['used_memory_delta']:12,d} B")
    return "\n".join(lines)


def near_tables(url, *, keys=10_000, readers=2, **options):
    """The side-by-side table and tracking's server memory, as text (what the benchmark prints)."""
    rows = near_table(url, **options)
    memory = tracking_memory(url, keys=keys, readers=readers)
    return (format_near_table(rows) + f"\n\nserver memory after {readers} readers each read "
            f"{keys:,} keys:\n" + format_tracking_memory(memory))
