"""Differential tests: cachelab's policies against libCacheSim, the reference simulator.

Each seeded trace is written as an oracleGeneral binary, which libCacheSim
replays in C, and replayed through cachelab in Python.  Identical
algorithms give identical hit counts, so the counts must be equal.

LRU, FIFO, LFU, CLOCK, SIEVE, ARC and S3-FIFO match exactly, and OPT
equals libCacheSim's Belady.  W-TinyLFU agrees statistically (within one
point of hit ratio): both follow libCacheSim's design (window 1%, SLRU
1:4, its counting rules), but a count-min sketch's overcounts depend on
the hash, and libCacheSim hashes with xxHash into one shared array, so
the two break different ties at the door.  theine (Caffeine's design,
4-bit counters and every request counted) is checked on Zipf too.  S3-FIFO uses libCacheSim's parameters
(small queue 10%, ghost 90%, promotion after 2 reads); it differs only
below maxsize=20, where libCacheSim's small queue holds a single key and
it refuses to store a key that large (see `S3FIFOCache`), which the last
test shows.
"""

import functools

import pytest

from cachelab import (
    ARCCache,
    ClockCache,
    FIFOCache,
    LFUCache,
    LRUCache,
    S3FIFOCache,
    SieveCache,
    WTinyLFUCache,
    opt_hits,
)
from cachelab.lab.datasets import fetch_trace, trace_path
from cachelab.lab.simulation import replay
from cachelab.lab.workloads import shifting_hotset, write_oracle_general, zipf, zipf_scan

# conftest.py points LCS_HUB_CACHE at a temporary directory before this import.
lcs = pytest.importorskip("libcachesim")

POLICIES = {
    "LRU": (LRUCache, "LRU"), "FIFO": (FIFOCache, "FIFO"), "LFU": (LFUCache, "LFU"),
    "CLOCK": (ClockCache, "Clock"), "SIEVE": (SieveCache, "Sieve"),
    "ARC": (ARCCache, "ARC"), "S3-FIFO": (S3FIFOCache, "S3FIFO"),
}
TRACES = {
    "zipf-0": lambda: zipf(20_000, 2_000, 0.9, seed=0),
    "zipf+scan": lambda: zipf_scan(20_000, 1_000, 0.8, scan_length=400, scan_every=3_000, seed=2),
    "hotset": lambda: shifting_hotset(20_000, 3_000, hot_keys=150, phases=5, seed=3),
}
SIZES = (20, 64, 300)


@pytest.fixture(scope="module", params=sorted(TRACES))
def trace_file(request, tmp_path_factory):
    trace = TRACES[request.param]()
    path = write_oracle_general(trace, tmp_path_factory.mktemp("traces") / f"{request.param}.bin")
    return request.param, trace, str(path)


@functools.cache
def our_hits(trace_name, policy, size):
    """Hits of cachelab's policy; each replay runs once for all the tests here."""
    return replay(POLICIES[policy][0](size), TRACES[trace_name]()).hits


def lcs_hits(name, path, size, n_requests):
    """Hits of libCacheSim's C policy `name` replaying the trace file."""
    reader = lcs.TraceReader(path, trace_type=lcs.TraceType.ORACLE_GENERAL_TRACE,
                             reader_init_params=lcs.ReaderInitParam(ignore_obj_size=True))
    cache = getattr(lcs, name)(size, hashpower=20)
    miss_ratio, _ = cache.process_trace(reader)
    return round((1 - miss_ratio) * n_requests)


@pytest.mark.parametrize("policy", list(POLICIES))
def test_hits_equal_libcachesim(policy, trace_file):
    trace_name, trace, path = trace_file
    ours = [our_hits(trace_name, policy, size) for size in SIZES]
    theirs = [lcs_hits(POLICIES[policy][1], path, size, len(trace)) for size in SIZES]
    assert ours == theirs


def test_opt_equals_belady_and_beats_everyone(trace_file):
    trace_name, trace, path = trace_file
    for size in SIZES:
        best = opt_hits(trace, size)
        assert best == lcs_hits("Belady", path, size, len(trace))
        assert all(our_hits(trace_name, policy, size) <= best for policy in POLICIES)


def test_s3fifo_differs_only_for_tiny_caches(trace_file):
    """With maxsize 10-19 libCacheSim's small queue has room for one key and stores none."""
    _, trace, path = trace_file
    assert lcs_hits("S3FIFO", path, 15, len(trace)) == 0
    assert replay(S3FIFOCache(15), trace).hits > 0


# -- W-TinyLFU: the same design, a different hash --------------------------------

AGREEMENT = 0.01  # hit ratio: one percentage point


@pytest.fixture(scope="module")
def zipf_file(tmp_path_factory):
    trace = zipf(60_000, 6_000, 1.0, seed=5)
    return trace, str(write_oracle_general(trace, tmp_path_factory.mktemp("wtlfu") / "zipf.bin"))


@pytest.mark.parametrize("size", [100, 300, 1_000, 3_000])
def test_wtinylfu_agrees_with_libcachesim_on_zipf(zipf_file, size):
    trace, path = zipf_file
    ours = replay(WTinyLFUCache(size), trace).hits
    assert abs(ours - lcs_hits("WTinyLFU", path, size, len(trace))) / len(trace) < AGREEMENT


@pytest.mark.parametrize("size", [100, 1_000, 3_000, 10_000, 30_000])
def test_wtinylfu_agrees_with_libcachesim_on_the_real_trace(size):
    """On the CloudPhysics trace; a textbook Caffeine window differs by 4.7 points at 10,000."""
    trace = fetch_trace("cloudphysics", download=False).keys
    path = str(trace_path("cloudphysics", download=False))
    ours = replay(WTinyLFUCache(size), trace).hits
    assert abs(ours - lcs_hits("WTinyLFU", path, size, len(trace))) / len(trace) < AGREEMENT


def test_libcachesim_wtinylfu_stores_nothing_below_100(tmp_path):
    """Its 1% window rounds down to no room at all; ours keeps one key in it."""
    trace = zipf(5_000, 500, 1.0, seed=1)
    path = str(write_oracle_general(trace, tmp_path / "small.bin"))
    assert lcs_hits("WTinyLFU", path, 99, len(trace)) == 0 < replay(WTinyLFUCache(99), trace).hits


@pytest.mark.parametrize("size", [100, 1_000, 3_000])
def test_wtinylfu_agrees_with_theine_on_zipf(zipf_file, size):
    theine = pytest.importorskip("theine")
    trace, _ = zipf_file
    keys = trace.tolist()

    def theine_hits():
        cache, hits = theine.Cache(size, nolock=True), 0
        for key in keys:
            _, found = cache.get(key)
            if found:
                hits += 1
            else:
                cache.set(key, key)
        return hits

    # theine seeds its sketch's hash afresh for every cache, so one run's hits vary (by up
    # to a point at size 100): compare with the mean of a few runs, not with one draw.
    hits = sum(theine_hits() for _ in range(5)) / 5
    assert abs(replay(WTinyLFUCache(size), trace).hits - hits) / len(trace) < AGREEMENT
