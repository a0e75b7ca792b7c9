"""Differential tests: cachelab's policies against libCacheSim, the reference simulator.

Each seeded trace is written as an oracleGeneral binary, which libCacheSim
replays in C, and replayed through cachelab in Python.  Identical
algorithms give identical hit counts, so the counts must be equal.

LRU, FIFO, LFU, CLOCK, SIEVE, ARC and S3-FIFO match exactly, and OPT
equals libCacheSim's Belady.  S3-FIFO uses libCacheSim's parameters
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
    opt_hits,
)
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
