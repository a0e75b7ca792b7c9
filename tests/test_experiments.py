"""The experiments' pure functions: what a reader sees in the step tables and plots."""


import cachetools
import pytest

from cachelab import FakeClock
from cachelab.lab.experiments import (
    hit_rate,
    hit_rate_table,
    lfu_steps,
    lru_steps,
    parse_sequence,
    parse_times,
    policy_steps,
    ttl_timeline,
)
from cachelab.lab.views import step_table


# -- parsing -----------------------------------------------------------------

def test_sequence_accepts_spaces_and_commas():
    assert parse_sequence(" A B,C  A ") == ["A", "B", "C", "A"]
    assert parse_sequence([1, 2, 1]) == [1, 2, 1]


@pytest.mark.parametrize("bad, error, words", [
    ("", ValueError, "empty"),
    ("A B; C", ValueError, "'B;'"),
    (42, TypeError, "sequence must be"),
    ([["A"]], TypeError, "unhashable"),
])
def test_bad_sequence_names_the_problem(bad, error, words):
    with pytest.raises(error, match=words):
        parse_sequence(bad)


@pytest.mark.parametrize("bad, words", [("0 2 1", "backwards"), ("0 x", "not a list"), ("", "empty")])
def test_bad_schedule_names_the_problem(bad, words):
    with pytest.raises(ValueError, match=words):
        parse_times(bad)


@pytest.mark.parametrize("kwargs, words", [
    ({"ttl": 0}, "ttl must be a number of seconds > 0"),
    ({"ttl": 1, "gap": -1}, "gap must be a number of seconds > 0"),
    ({"ttl": 1, "schedule": "0 1", "sequence": "A"}, "1 keys but there are 2"),
])
def test_ttl_timeline_rejects_bad_input(kwargs, words):
    with pytest.raises(ValueError, match=words):
        ttl_timeline(**kwargs)


def test_steps_reject_bad_size_and_policy():
    with pytest.raises(ValueError, match="size must be"):
        lru_steps("A B", 0)
    with pytest.raises(TypeError, match="size must be"):
        lru_steps("A B", 2.5)
    with pytest.raises(ValueError, match="policy must be one of LRU, LFU, FIFO, RR, CLOCK"):
        policy_steps("MRU", "A B", 2)


# -- TTL ---------------------------------------------------------------------------

def test_ttl_longer_than_gap_turns_misses_into_hits():
    short = ttl_timeline(1.0, gap=1.0)   # each entry dies exactly when the next request comes
    longer = ttl_timeline(2.5, gap=1.0)
    assert [s.hit for s in short.steps] == [False] * 8
    assert [s.hit for s in longer.steps] == [False, True, True, False, True, True, False, True]


def test_ttl_lifetimes_and_expiry_events():
    run = ttl_timeline(2.5, gap=1.0, n_requests=4)
    assert [(life.stored, life.expires) for life in run.lifetimes] == [(0.0, 2.5), (3.0, 5.5)]
    assert run.steps[3].expired == ("A",)            # found expired at the request at t=3
    assert run.steps[3].state[0].notes == {"A": "until 5.5"}


def test_ttl_schedule_and_injected_clock():
    clock = FakeClock(start=100.0)
    run = ttl_timeline(2.0, schedule="0 1 5 5.5", sequence="A B A B", clock=clock)
    assert [(s.time, s.key, s.hit) for s in run.steps] == [
        (100.0, "A", False), (101.0, "B", False), (105.0, "A", False), (105.5, "B", False)]
    assert clock() == 105.5


# -- LRU and LFU steps ------------------------------------------------------------------

def test_lru_steps_name_hits_evictions_and_order():
    steps = lru_steps("A B C A D B E", 3)
    assert [s.hit for s in steps] == [False, False, False, True, False, False, False]
    assert [s.evicted for s in steps] == [None, None, None, None, "B", "C", "A"]
    assert steps[3].state[0].keys == ["B", "C", "A"]   # A just used: last to go


def test_bigger_lru_evicts_fewer_keys():
    evictions = [sum(s.evicted is not None for s in lru_steps("A B C A D B E", n)) for n in (2, 3, 4, 5)]
    assert evictions == sorted(evictions, reverse=True) and evictions[0] > evictions[-1] == 0


def test_lru_and_lfu_evict_different_keys():
    lru, lfu = lru_steps("A A B C", 2), lfu_steps("A A B C", 2)
    assert (lru[-1].evicted, lfu[-1].evicted) == ("A", "B")
    assert [(row.label, row.keys) for row in lfu[-1].state] == [("1x", ["C"]), ("2x", ["A"])]


def test_lfu_ties_go_to_the_key_that_reached_the_count_first():
    steps = lfu_steps("A B B A C", 2)   # A and B both reach 2; B got there first
    assert steps[-1].evicted == "B"


@pytest.mark.parametrize("ours, theirs", [(lru_steps, cachetools.LRUCache),
                                          (lfu_steps, cachetools.LFUCache)])
def test_evictions_agree_with_cachetools(ours, theirs):
    sequence = "A B C A D B E A A C F B G A D D E".split()
    cache, expected = theirs(maxsize=3), []
    for key in sequence:
        before = set(cache)
        if key in cache:
            cache[key]
        else:
            cache[key] = key
        gone = before - set(cache)
        expected.append(gone.pop() if gone else None)
    assert [s.evicted for s in ours(sequence, 3)] == expected


def test_step_table_reads_like_the_steps():
    table = step_table(lfu_steps("A B A C", 2)).splitlines()
    assert table[0].startswith("step  key  result  evicted")
    assert table[-1].split() == ["4", "C", "miss", "B", "1x:", "C", "2x:", "A"]
    ttl_table = step_table(ttl_timeline(2.5, gap=1.0, n_requests=4).steps).splitlines()
    assert ttl_table[0].startswith("step   time  key  result  expired")
    assert ttl_table[-1].split() == ["4", "3", "A", "miss", "A", "A", "until", "5.5"]


# -- hit rates -------------------------------------------------------------------

def test_hit_rate_grows_with_size_under_zipf():
    table = hit_rate_table("zipf", sizes=(5, 20, 80), policies=("LRU", "LFU"), seed=1)
    assert list(table) == ["LRU", "LFU"]
    for curve in table.values():
        ratios = curve.hit_ratios.tolist()
        assert ratios == sorted(ratios) and ratios[0] < ratios[-1]


def test_loop_larger_than_cache_defeats_lru_but_not_rr():
    table = hit_rate_table("loop", sizes=(10, 50), policies=("lru", "fifo", "rr"))
    assert table["LRU"].hits.tolist() == table["FIFO"].hits.tolist() == [0, 0]
    assert table["RR"].hit_ratios[1] > 0.1  # some keys survive a whole loop by luck


def test_loop_hits_only_once_everything_fits():
    assert hit_rate("loop", 99, "LRU").hits == 0
    assert hit_rate("loop", 100, "LRU").hit_ratio == 0.95


def test_table_and_single_replays_agree():
    table = hit_rate_table("zipf", sizes=(7, 30), alpha=0.8, seed=2)
    for policy, curve in table.items():
        assert curve.hits.tolist() == [hit_rate("zipf", size, policy, alpha=0.8, seed=2).hits
                                       for size in (7, 30)]


def test_hit_rate_is_seeded():
    assert hit_rate("uniform", 30, "RR", seed=3) == hit_rate("uniform", 30, "RR", seed=3)
    assert hit_rate("zipf", 30, "LRU", seed=3) != hit_rate("zipf", 30, "LRU", seed=4)


def test_hit_rate_rejects_unknown_workload():
    with pytest.raises(ValueError, match="workload must be one of zipf, uniform"):
        hit_rate_table("random")


# -- notebook 02's summary: a formula checked against the experiment -----------------

@pytest.mark.parametrize("ttl, gap", [(2.5, 1.0), (1.0, 1.0), (4.0, 0.5), (0.5, 2.0), (3.0, 1.5),
                                      (2.0, 1.0), (2.01, 1.0), (6.0, 0.5)])
def test_hits_per_miss_is_ceil_ttl_over_gap_minus_one(ttl, gap):
    """One stored entry serves ⌈ttl/gap⌉ requests: its miss, then ⌈ttl/gap⌉ - 1 hits."""
    import math

    steps = ttl_timeline(ttl, gap=gap, n_requests=48).steps
    misses = [i for i, s in enumerate(steps) if not s.hit]
    runs = [b - a - 1 for a, b in zip(misses, misses[1:])]  # hits between consecutive misses
    assert runs and set(runs) == {math.ceil(ttl / gap) - 1}


def test_ttl_run_repr_summarises():
    from cachelab.lab.experiments import ttl_timeline

    assert repr(ttl_timeline(ttl=2.5, gap=1.0)) == "TTLRun(ttl=2.5, 8 requests: 5 hits, 3 misses, 3 lifetimes)"
