"""The pattern invariants of test_patterns.py, run again with a RedisCache where they used an LRUCache.

The test bodies are the same objects, not copies: each is collected here
a second time, and an autouse fixture makes the name `LRUCache` inside
test_patterns build a RedisCache (a fresh key prefix per cache) for the
length of the test.  Left out, with the reason:

* test_cache_aside_reads_the_database_once_within_the_ttl: a TTLCache on a
  FakeClock; Redis expires keys on its own clock (test_redis_cache tests
  SET ... PX and a real expiry instead).
* test_write_behind_read_after_eviction_sees_the_queued_value: needs an
  eviction from a one-slot cache; Redis bounds memory, not keys.
"""

import pytest

import test_patterns as memory

RUN_OVER_REDIS = [
    "test_falsy_values_are_hits",
    "test_a_failed_load_caches_nothing",
    "test_cache_aside_write_leaves_a_stale_copy_until_invalidated",
    "test_read_through_looks_like_a_mapping",
    "test_write_through_cache_matches_the_database_after_every_write",
    "test_write_through_failure_does_not_leave_the_new_value_cached",
    "test_write_around_leaves_no_cache_entry",
    "test_invalidate_counts_what_was_there",
    "test_write_behind_close_writes_everything_in_order_per_key",
    "test_write_behind_loses_nothing_when_a_fifth_of_database_writes_fail",
    "test_write_behind_crash_loses_exactly_the_reported_writes",
    "test_write_behind_crash_with_a_background_flusher_is_exact_too",
    "test_background_flusher_and_application_threads_together",
]


@pytest.fixture(autouse=True)
def lru_cache_is_redis(monkeypatch, make_redis_cache):
    """Inside test_patterns, LRUCache(maxsize) now returns an empty RedisCache."""
    made = []

    def redis_lru(maxsize):
        made.append(make_redis_cache())
        return made[-1]

    monkeypatch.setattr(memory, "LRUCache", redis_lru)
    yield
    assert made, "the test built no cache, so it did not run over Redis"


for _name in RUN_OVER_REDIS:
    globals()[_name] = getattr(memory, _name)  # an AttributeError here: a test was renamed
