"""A stampede simulator on a fake clock: N clients, Poisson arrivals, one cure.

`simulate()` replays seeded Poisson requests from `clients` clients (each
at `rate` requests per second) on a few hot keys that live `ttl` seconds
and take `delta` seconds to load, under one strategy:

    none           every miss loads (the stampede)
    lock           one loader per key in the whole system; the others poll
                   the cache every `poll` seconds until the value is there
    single-flight  one loader per key per server (`servers`); the others
                   wait for it and wake the moment it lands
    swr            stale-while-revalidate: after the soft expiry (`ttl`)
                   readers get the old value at once and a background
                   refresh runs, one per server (the library remembers
                   refreshing keys in a per-process set); after `stale_for`
                   more seconds the value is gone
    swr+setnx      the same, the refresh claimed in Redis with SET NX PX:
                   one in the whole system
    xfetch         probabilistic early expiration with `beta`; the reader
                   that recomputes waits for it, the others read on
    xfetch+marker  the same, and the recomputing reader marks the shared
                   entry, so the others serve the old value (past its
                   expiry too); the mark is check-then-write, atomic only
                   within a server, so a reader on another server in the
                   round trip (`hit_latency`) before the mark lands may
                   recompute too
    xfetch+setnx   the same, the mark taken with SET NX PX: one recompute
    jitter         no protection, each TTL spread by +-`jitter`

Time only moves from request to request, so a run is exact and
repeatable, and fast: stretches of plain hits are skipped in one step.
`avalanche()` loads many keys at once and watches them expire together;
`cold_start()` measures the first minute with and without pre-warming.
All return data (named tuples and lists); the views draw it.
"""

import bisect
import collections
import functools
import math

import numpy as np

from .._checks import check_choice, check_int, check_seconds
from ..stampede import check_beta, check_jitter, prewarm, top_keys

__all__ = [
    "STRATEGIES",
    "Avalanche",
    "ColdStart",
    "SimResult",
    "avalanche",
    "cold_start",
    "compare",
    "load_timeline",
    "poisson_arrivals",
    "simulate",
    "sweep",
    "xfetch_expected",
]

STRATEGIES = ("none", "lock", "single-flight", "swr", "swr+setnx", "xfetch", "xfetch+marker",
              "xfetch+setnx", "jitter")

SimResult = collections.namedtuple(
    "SimResult",
    "strategy requests hits stale_reads misses waits loads expiries loads_per_expiry "
    "max_concurrent p50 p99 early load_starts duration delta")
SimResult.__doc__ = """One simulated run.

requests, hits, stale_reads: reads, reads served at hit latency (stale ones
included), and stale ones among them.  misses: reads that found no usable
value.  waits: reads slower than a hit (misses, waiters, XFetch's early
recomputers).  loads: database loads; expiries: refresh episodes (a load
that starts while no other load of its key runs); loads_per_expiry their
ratio.  max_concurrent: most loads running at once.  p50, p99: latency in
seconds.  early: XFetch's early recomputes.  load_starts: sorted start
times of every load (see load_timeline()).
"""


def poisson_arrivals(clients, rate, duration, *, keys=1, seed=0):
    """Seeded Poisson arrivals: (times, key of each, client of each), sorted by time.

    `clients` clients each send `rate` requests per second for `duration`
    seconds; together that is one Poisson process of clients * rate.  The
    arrays are read-only and shared: compare() runs every strategy on one set.
    """
    clients = check_int("clients", clients, 1)
    check_seconds("rate", rate, positive=True)
    check_seconds("duration", duration, positive=True)
    keys = check_int("keys", keys, 1)
    return _arrivals(clients, rate, duration, keys, seed)


@functools.lru_cache(maxsize=16)
def _arrivals(clients, rate, duration, keys, seed):
    rng = np.random.default_rng(seed)
    n = rng.poisson(clients * rate * duration)
    # n points uniform on [0, duration), sorted, are a Poisson process given n.
    arrays = np.sort(rng.uniform(0.0, duration, n)), rng.integers(0, keys, n), rng.integers(0, clients, n)
    for array in arrays:
        array.flags.writeable = False
    return arrays


def _quantile(sorted_slow, n_fast, fast, q):
    """Nearest-rank quantile of n_fast copies of `fast` followed by the sorted slow latencies."""
    n = n_fast + len(sorted_slow)
    if n == 0:
        return 0.0
    rank = max(1, math.ceil(q * n))  # 1-based
    return fast if rank <= n_fast else sorted_slow[rank - n_fast - 1]


def _max_concurrent(starts, delta):
    """Most loads at once, from sorted starts each lasting delta (one ending as another starts: no overlap)."""
    best = lo = 0
    for hi, start in enumerate(starts):
        while starts[lo] + delta <= start:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def simulate(strategy="none", *, clients=100, rate=1.0, ttl=10.0, delta=0.5, duration=60.0,
             keys=1, beta=1.0, jitter=0.1, stale_for=None, poll=0.05, servers=1,
             hit_latency=0.001, seed=0, arrivals=None, randoms=None):
    """Run one strategy; return a SimResult.

    Every key is warm at time 0 and expires at `ttl`.  `arrivals` replaces
    the seeded requests with your own: a list of times, or of (time, key)
    or (time, key, client) tuples, for small cases worked out by hand.
    `randoms` gives XFetch's uniform draws in (0, 1], one per request in
    time order, and jitter's draws in [0, 1), one per load landing.
    """
    check_choice("strategy", strategy, STRATEGIES)
    check_seconds("ttl", ttl, positive=True)
    check_seconds("delta", delta)
    check_seconds("poll", poll, positive=True)
    beta = check_beta(beta)
    jitter = check_jitter(jitter) if strategy == "jitter" else 0.0
    stale_for = ttl if stale_for is None else check_seconds("stale_for", stale_for)
    servers = check_int("servers", servers, 1)
    if arrivals is None:
        times, key_of, client_of = poisson_arrivals(clients, rate, duration, keys=keys, seed=seed)
    else:
        rows = [a if isinstance(a, (tuple, list)) else (a,) for a in arrivals]
        rows.sort(key=lambda r: r[0])
        times = np.array([r[0] for r in rows], dtype=float)
        key_of = np.array([r[1] if len(r) > 1 else 0 for r in rows], dtype=int)
        client_of = np.array([r[2] if len(r) > 2 else i for i, r in enumerate(rows)], dtype=int)
        keys = int(key_of.max()) + 1 if len(rows) else 1
    rng = np.random.default_rng(seed + 1)  # the strategy's own draws, so arrivals stay the same
    n = len(times)
    if randoms is not None:
        draws = np.asarray(randoms, dtype=float)
    else:
        draws = 1.0 - rng.random(n)  # uniform in (0, 1]
    xfetch = strategy.startswith("xfetch")
    # XFetch recomputes request i early when times[i] + score[i] >= expiry.
    score = -delta * beta * np.log(draws[:n]) if xfetch else None
    jitter_draws = iter(draws) if randoms is not None else None

    def ttl_for():
        if not jitter:
            return ttl
        u = next(jitter_draws) if jitter_draws is not None else rng.random()
        return ttl * (1 + jitter * (2 * u - 1))

    totals = collections.Counter()
    slow = []           # latencies of reads slower than a hit
    load_starts = []
    for key in range(keys):
        mine = np.flatnonzero(key_of == key)
        _simulate_key(strategy, times[mine], client_of[mine] % servers,
                      None if score is None else score[mine], ttl_for(), ttl_for, delta,
                      stale_for, poll, hit_latency, totals, slow, load_starts)
    slow.sort()
    load_starts.sort()
    fast = n - len(slow)
    expiries = totals["expiries"]
    return SimResult(
        strategy=strategy, requests=n, hits=fast, stale_reads=totals["stale"],
        misses=totals["misses"], waits=len(slow), loads=len(load_starts), expiries=expiries,
        loads_per_expiry=len(load_starts) / expiries if expiries else 0.0,
        max_concurrent=_max_concurrent(load_starts, delta) if delta > 0 else 0,
        p50=_quantile(slow, fast, hit_latency, 0.50), p99=_quantile(slow, fast, hit_latency, 0.99),
        early=totals["early"], load_starts=load_starts,
        duration=duration if arrivals is None else float(times[-1]) if n else 0.0, delta=delta)


def _simulate_key(strategy, times, server_of, score, first_ttl, ttl_for, delta, stale_for, poll,
                  race, totals, slow, load_starts):
    """One key's requests in time order; keys never interact, so each is run alone.

    Runs of requests that all see the same state (plain hits, a stampede's
    misses, waiters for one load, stale reads) are handled in one step.
    """
    # State of the key:
    #   has       a value is stored
    #   expiry    when it expires (the soft expiry for swr); hard: swr's hard expiry
    #   flying    loads in flight, (end, server) in start order (all take delta, so in end order too)
    #   ends      server -> end of its single-flight load
    has, expiry = True, first_ttl
    hard = expiry + stale_for
    flying = collections.deque()
    ends = {}
    xfetch = score is not None
    marker = strategy in ("xfetch+marker", "xfetch+setnx")
    racy = strategy == "xfetch+marker"  # check-then-write: other servers may not see the mark yet
    times_list = times.tolist()
    score_list = score.tolist() if xfetch else None
    many_servers = len(server_of) > 0 and server_of.max() > 0
    n = len(times_list)
    inf = math.inf

    def start(t, server):
        if not flying:
            totals["expiries"] += 1
        flying.append((t + delta, server))
        load_starts.append(t)
        return t + delta

    def upto(limit, i):
        """Index of the first request at or after `limit`, from i on."""
        return bisect.bisect_left(times_list, limit, i)

    i = 0
    while i < n:
        t = times_list[i]
        while flying and flying[0][0] <= t:  # loads that landed before this request
            end, server = flying.popleft()
            has, expiry = True, end + ttl_for()
            hard = expiry + stale_for
            if ends.get(server) == end:
                del ends[server]
        landing = flying[0][0] if flying else inf
        if has and t < expiry:
            # Fresh: hits up to the expiry or the next landing, whichever is first.
            j = upto(min(expiry, landing), i)
            if xfetch and not (marker and flying):
                if j - i <= 32:  # a short stretch: plain Python beats a numpy call
                    j = next((k for k in range(i, j) if times_list[k] + score_list[k] >= expiry), j)
                else:
                    early = np.flatnonzero(times[i:j] + score[i:j] >= expiry)
                    if len(early):
                        j = i + int(early[0])
            if j > i:
                i = j
                continue
        server = server_of[i]
        fresh = has and t < expiry
        if strategy in ("none", "jitter"):
            # Every request until the first load lands misses and loads.
            j = upto(min(t + delta, landing), i + 1)
            totals["misses"] += j - i
            if not flying:
                totals["expiries"] += 1
            chunk = times_list[i:j]
            load_starts.extend(chunk)
            flying.extend([(s + delta, None) for s in chunk])
            slow.extend([delta] * (j - i))
            i = j
            continue
        if strategy in ("lock", "single-flight"):
            per_server = strategy == "single-flight"
            if per_server and server in ends:
                totals["misses"] += 1
                slow.append(ends[server] - t)
            elif not per_server and flying:  # poll until the value is there
                totals["misses"] += 1
                slow.append(math.ceil((flying[-1][0] - t) / poll - 1e-9) * poll)
            else:
                end = ends[server] = start(t, server)
                totals["misses"] += 1
                slow.append(delta)
                j = upto(end, i + 1)
                if per_server and many_servers and len(np.unique(server_of[i:j])) > 1:
                    i += 1  # other servers may load too: one request at a time
                    continue
                waits = end - times[i + 1:j]
                if not per_server:
                    waits = np.ceil(waits / poll - 1e-9) * poll
                totals["misses"] += j - i - 1
                slow.extend(waits.tolist())
                i = j
                continue
        elif strategy in ("swr", "swr+setnx"):
            if has and t < hard:
                if strategy == "swr" and many_servers:
                    # Each server's own set: its first stale reader starts its own refresh.
                    if server not in ends:
                        ends[server] = start(t, server)
                    totals["stale"] += 1
                    i += 1
                    continue
                if not flying:
                    start(t, server)  # in the background: nobody waits
                j = upto(min(hard, flying[0][0]), i + 1)
                totals["stale"] += j - i
                i = j
                continue
            totals["misses"] += 1
            if flying:
                slow.append(flying[-1][0] - t)
            else:
                start(t, server)
                slow.append(delta)
        else:  # xfetch, xfetch+marker, xfetch+setnx
            if marker and flying and has and not fresh:
                j = upto(flying[0][0], i + 1)
                totals["stale"] += j - i
                i = j
                continue
            # fresh: the fast path stopped here, an early recompute; else a miss
            totals["early" if fresh else "misses"] += 1
            start(t, server)
            slow.append(delta)
            if racy and many_servers:
                i = _race(i, t + race, server, expiry, times_list, score_list, server_of,
                          start, totals, slow, delta)
                continue
        i += 1


def _race(i, until, marker_server, expiry, times, score, server_of, start, totals, slow, delta):
    """Reads after request i until the mark is visible: other servers' readers that would recompute do.

    Reads on the marking server see its mark at once (its in-process lock)
    and serve the old value; a read on another server checks the entry
    before the mark lands, and recomputes if XFetch tells it to (or the
    entry has expired).  Returns the index of the first read not handled.
    """
    j = i + 1
    while j < len(times) and times[j] < until:
        t = times[j]
        if server_of[j] != marker_server and (t >= expiry or t + score[j] >= expiry):
            totals["early" if t < expiry else "misses"] += 1
            start(t, server_of[j])
            slow.append(delta)
        else:
            totals["stale"] += t >= expiry
        j += 1
    return j


def load_timeline(result, bin=1.0):
    """(bin start times, loads started in each bin): the database load over time, for plotting."""
    check_seconds("bin", bin, positive=True)
    n_bins = max(1, math.ceil(result.duration / bin))
    counts = [0] * n_bins
    for start in result.load_starts:
        counts[min(n_bins - 1, int(start // bin))] += 1
    return [i * bin for i in range(n_bins)], counts


def compare(strategies=STRATEGIES, **params):
    """simulate() each strategy on the same seeded arrivals; return {strategy: SimResult}."""
    return {s: simulate(s, **params) for s in strategies}


def sweep(strategy, clients=(1, 10, 100, 1000), **params):
    """simulate() one strategy for several client counts; return {clients: SimResult}."""
    return {c: simulate(strategy, clients=c, **params) for c in clients}


def xfetch_expected(rate, delta, beta=1.0, ttl=10.0, steps=2000):
    """XFetch (no marker) under the paper's model: (recomputes per expiry, share of reads that wait).

    Reads arrive as a Poisson process of `rate` per second.  A read `g`
    seconds before the expiry recomputes with probability
    exp(-g / (beta * delta)), so the first early recompute comes when the
    integrated intensity u = rate * beta * delta * exp(-g / (beta * delta))
    reaches an Exp(1) draw.  Reads during its `delta` seconds may recompute
    too, and reads after the expiry all do; every recompute makes its
    reader wait, and the last one to land sets the next expiry.  Integrated
    numerically over u.
    """
    check_seconds("rate", rate, positive=True)
    check_seconds("delta", delta, positive=True)
    beta = check_beta(beta)
    scale = beta * delta
    total = rate * scale            # u at g = 0
    du = min(total, 60.0) / steps   # u is an Exp(1) draw: beyond 60 its weight is nil
    grid = 40                       # points across one recompute's delta seconds
    dx = delta / grid
    recomputes = cycle = 0.0
    for k in range(steps):
        u = (k + 0.5) * du
        weight = math.exp(-u) * du
        g = scale * math.log(total / u)  # how early the first recompute starts
        # Intensity of further recomputes x seconds after the first started.
        rates = [rate * math.exp(-(g - x) / scale) if x < g else rate
                 for x in ((j + 0.5) * dx for j in range(grid))]
        extra = sum(rates) * dx
        # When the last of them starts: E = integral of P(one starts after x) dx.
        tail, last = 0.0, 0.0
        for r in reversed(rates):
            tail += r * dx
            last += (1 - math.exp(-tail)) * dx
        recomputes += weight * (1 + extra)
        cycle += weight * (ttl - g + last + delta)
    # Nobody recomputed early: the first read after the expiry misses, and a plain stampede follows.
    no_early = math.exp(-total)
    recomputes += no_early * (1 + rate * delta)
    cycle += no_early * (ttl + 1 / rate + delta - (1 - math.exp(-rate * delta)) / rate + delta)
    return recomputes, recomputes / (rate * cycle)


# -- the avalanche: many keys loaded together ---------------------------------------------------

Avalanche = collections.namedtuple("Avalanche", "times loads peak total jitter")
Avalanche.__doc__ = ("An avalanche run: bin start times, database loads started in each bin, the "
                     "peak loads per bin, all loads, and the jitter used.")


def avalanche(n_keys=10_000, ttl=300.0, jitter=0.0, *, rate=1.0, delta=0.1, duration=None,
              bin=1.0, seed=0):
    """Load n_keys at time 0 with one TTL (spread by +-jitter) and count reloads per `bin` seconds.

    Each key is read `rate` times a second; the first read after its expiry
    reloads it (one load per expiry, as single-flight gives), which, for
    Poisson reads, comes an Exp(rate) wait after the expiry.  Hits do not
    touch the database, so they are not simulated one by one.
    """
    n_keys = check_int("n_keys", n_keys, 1)
    check_seconds("ttl", ttl, positive=True)
    jitter = check_jitter(jitter)
    check_seconds("rate", rate, positive=True)
    check_seconds("delta", delta)
    check_seconds("bin", bin, positive=True)
    duration = 2.5 * ttl if duration is None else check_seconds("duration", duration, positive=True)
    rng = np.random.default_rng(seed)
    expiry = ttl * (1 + jitter * (2 * rng.random(n_keys) - 1))
    starts = []
    while len(expiry):
        start = expiry + rng.exponential(1 / rate, len(expiry))
        start = start[start < duration]
        starts.append(start)
        expiry = start + delta + ttl * (1 + jitter * (2 * rng.random(len(start)) - 1))
        expiry = expiry[expiry < duration]
    starts = np.concatenate(starts) if starts else np.zeros(0)
    n_bins = math.ceil(duration / bin)
    counts = np.bincount(np.minimum((starts // bin).astype(int), n_bins - 1), minlength=n_bins)
    return Avalanche([i * bin for i in range(n_bins)], counts.tolist(), int(counts.max()),
                     int(len(starts)), jitter)


# -- cold start: the first minute, with and without pre-warming --------------------------------

ColdStart = collections.namedtuple("ColdStart", "prewarmed requests misses miss_ratio times ratios")
ColdStart.__doc__ = ("A cold start: keys pre-warmed, requests and misses in the window, the miss "
                     "ratio, and the miss ratio per bin (bin start times, ratios).")


def cold_start(prewarm_keys=0, *, n_keys=2000, alpha=1.0, rate=200.0, seconds=60.0, bin=5.0,
               log_requests=20_000, seed=0):
    """Start an empty cache (big enough for every key) and count misses in the first `seconds`.

    Requests are Zipf(alpha) over n_keys, `rate` per second.  Before they
    arrive, `prewarm()` loads the `prewarm_keys` most requested keys of
    yesterday's access log (`log_requests` requests of the same workload,
    another seed).  A miss is a key's first request: the cache never evicts.
    """
    from .workloads import zipf

    prewarm_keys = check_int("prewarm_keys", prewarm_keys, 0)
    check_seconds("rate", rate, positive=True)
    check_seconds("seconds", seconds, positive=True)
    check_seconds("bin", bin, positive=True)
    cache = {}
    if prewarm_keys:
        log = zipf(log_requests, n_keys, alpha, seed=seed + 1).tolist()
        prewarm(cache, top_keys(log, prewarm_keys), lambda key: key, progress=False)
    n = int(rate * seconds)
    today = zipf(n, n_keys, alpha, seed=seed).tolist()
    n_bins = math.ceil(seconds / bin)
    per_bin = math.ceil(n / n_bins)
    misses, ratios = 0, []
    for b in range(n_bins):
        chunk = today[b * per_bin:(b + 1) * per_bin]
        missed = 0
        for key in chunk:
            if key not in cache:
                cache[key] = key
                missed += 1
        misses += missed
        ratios.append(missed / len(chunk) if chunk else 0.0)
    return ColdStart(prewarm_keys, n, misses, misses / n if n else 0.0,
                     [b * bin for b in range(n_bins)], ratios)
