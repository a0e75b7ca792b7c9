"""Near caches that stay fresh, on a real Valkey: pub/sub invalidation and CLIENT TRACKING.

Two processes write and read through real connections; faults are forced
at a chosen moment (a proxy refuses or swallows, the server stops) and the
tests wait for the cache to notice, never for a fixed time.
"""

import uuid

import pytest
import redis

from cachelab import LRUCache, cached, hashkey, invalidate
from cachelab.lab.near_experiments import WriterProcess, stale_reads, staleness, tracking_memory
from cachelab.lab.proxy import TCPProxy
from cachelab.redis import PubSubNearCache, RedisCache, TrackingNearCache, redis_server
from waiting import wait_until

MAKERS = {
    "pub/sub": lambda far, **kw: PubSubNearCache(LRUCache(maxsize=100), far, **kw),
    "tracking": lambda far, **kw: TrackingNearCache(LRUCache(maxsize=100), far, **kw),
    "tracking BCAST": lambda far, **kw: TrackingNearCache(LRUCache(maxsize=100), far, bcast=True, **kw),
}
schemes = pytest.mark.parametrize("scheme", list(MAKERS))


def prefix():
    return f"test-near:{uuid.uuid4().hex[:10]}:"


def port_of(url):
    return int(url.rsplit(":", 1)[1].split("/")[0])


@pytest.fixture
def pair(redis_url):
    """pair(scheme) -> (reader, writer): two near caches of one scheme on one prefix, closed after."""
    made = []

    def make(scheme, **options):
        p = prefix()
        reader = MAKERS[scheme](RedisCache(redis_url, prefix=p, timeout=1.0), **options)
        writer = MAKERS[scheme](RedisCache(redis_url, prefix=p, timeout=1.0))
        made.extend([reader, writer])
        assert reader.live and writer.live
        return reader, writer

    yield make
    for cache in made:
        cache.close()
    if made:
        made[0].far.clear()


@schemes
def test_a_write_in_one_instance_drops_the_others_near_copy(pair, scheme):
    reader, writer = pair(scheme)
    writer["k"] = 1
    wait_until(lambda: reader.stats()["messages"] == 1 or scheme == "tracking")  # before any read
    assert reader.get("k") == 1 and reader.get("k") == 1
    assert reader.stats()["near_hits"] == 1
    writer["k"] = 2
    wait_until(lambda: reader.get("k") == 2)
    assert reader.stats()["invalidated"] == 1


@schemes
def test_a_writer_reads_its_own_write_and_skips_its_echo(pair, scheme):
    reader, writer = pair(scheme)
    writer["k"] = 1
    assert writer.get("k") == 1
    writer["k"] = 2
    assert writer.get("k") == 2  # its own near copy went with the write
    wait_until(lambda: reader.stats()["messages"] >= 2 or scheme == "tracking")
    if scheme == "pub/sub":
        wait_until(lambda: writer.stats()["messages"] >= 2)
    writer.get("k")
    assert writer.stats()["invalidated"] == 0
    if scheme == "pub/sub":
        assert writer.stats()["echoes"] == writer.stats()["messages"] == 2


@pytest.mark.parametrize("scheme", ["tracking", "tracking BCAST"])
def test_tracking_sees_a_plain_write_by_any_client(pair, redis_url, scheme):
    reader, _ = pair(scheme)
    reader.far.set("k", 1)
    assert reader.get("k") == 1 and reader.get("k") == 1
    redis.Redis.from_url(redis_url).set(reader.far.name_of("k"), b"2")  # not through any near cache
    wait_until(lambda: reader.get("k") == 2)


def test_default_tracking_pushes_only_keys_read_and_bcast_every_key(pair):
    counts = {}
    for scheme in ["tracking", "tracking BCAST"]:
        reader, writer = pair(scheme)
        for key in ("read", "unread", "barrier"):
            reader[key] = 0  # its own writes: NOLOOP, so no push to count
        reader.get("read")
        reader.get("barrier")
        before = reader.stats()["messages"]
        writer["read"] = writer["unread"] = 1
        writer["barrier"] = 1  # pushes come in order: once this one is in, the others are
        wait_until(lambda: reader.get("barrier") == 1)
        counts[scheme] = reader.stats()["messages"] - before
    assert counts["tracking"] == 2          # read and barrier; unread was never read
    assert counts["tracking BCAST"] >= 3    # every key under the prefix


def test_two_processes_see_each_others_writes_within_the_bound(redis_url):
    """A write in another process reaches this one's near cache quickly, for every scheme."""
    for scheme in ["pub/sub", "tracking", "tracking BCAST"]:
        p50, p99, worst = staleness(redis_url, scheme, writes=10, interval=0.02)
        assert worst < 500, (scheme, worst)  # ms; a missed invalidation would never be seen


def test_two_processes_final_value_and_no_late_stale_reads(redis_url):
    for scheme in ["pub/sub", "tracking"]:
        run = stale_reads(redis_url, scheme=scheme, reads=1000, duration=0.5, late=0.25)
        assert run.writes == 10 and run.late_stale == 0, (scheme, run)
        assert run.near_hits > 0.5


def test_the_plain_two_level_cache_serves_stale_reads_for_its_ttl(redis_url):
    run = stale_reads(redis_url, scheme="two-level (TTL 1 s)", reads=1000, duration=0.5, late=0.25)
    assert run.late_stale > 0  # the harness can fail: near copies outlive writes


@schemes
def test_a_writer_process_final_value_is_read(pair, redis_url, scheme):
    reader, _ = pair(scheme)
    reader.far.set("k", 0)
    assert reader.get("k") == reader.get("k") == 0  # in near now
    process = WriterProcess(redis_url, reader.far.prefix, scheme, [(0.0, "k", 1), (0.01, "k", 2)])
    process.start()
    done = process.results()
    assert [version for _, version, _ in done] == [1, 2]
    wait_until(lambda: reader.get("k") == 2)


# -- faults: the invalidation connection drops, and comes back


@schemes
@pytest.mark.parametrize("fault", ["refuse", "swallow"])
def test_a_dropped_connection_leaves_no_stale_copy_after_reconnect(redis_url, scheme, fault):
    p = prefix()
    writer = MAKERS[scheme](RedisCache(redis_url, prefix=p, timeout=1.0))
    with TCPProxy(port_of(redis_url)) as proxy:
        far = RedisCache(proxy.url(), prefix=p, timeout=0.2, backoff=0.01, max_backoff=0.05)
        reader = MAKERS[scheme](far, heartbeat=0.1)
        try:
            writer["k"] = 1
            assert reader.get("k") == 1 and reader.get("k") == 1
            with proxy.faulted(fault):
                wait_until(lambda: not reader.live)  # an RST at once; a black hole by the heartbeat
                writer["k"] = 2                 # the message is lost on the way
                assert reader.get("k") != 1     # while down, near is not used
            wait_until(lambda: reader.live)
            assert reader.get("k") == 2 and reader.get("k") == 2
            assert reader.stats()["reconnects"] >= 1
        finally:
            reader.close()
            writer.close()
            writer.far.clear()


@schemes
def test_a_server_restart_empties_near(scheme):
    with redis_server(embedded=True) as server:
        p = prefix()
        reader = MAKERS[scheme](RedisCache(server.url, prefix=p, timeout=0.2, backoff=0.01,
                                           max_backoff=0.05))
        try:
            reader.far.set("k", 1)
            assert reader.get("k") == 1 and reader.get("k") == 1
            server.stop()
            wait_until(lambda: not reader.live)
            server.start()  # empty: what near held is gone from Redis too
            RedisCache(server.url, prefix=p).set("k", 2)
            wait_until(lambda: reader.live)
            wait_until(lambda: reader.get("k") == 2)
        finally:
            reader.close()


def test_a_queue_longer_than_its_bound_becomes_one_flush(pair):
    reader, writer = pair("pub/sub")
    reader.MAX_PENDING = 5
    for i in range(20):
        writer[i] = 0
        reader.get(i)
    assert reader.stats()["near_hits"] == 0
    for i in range(20):
        assert reader.get(i) == 0
    flushes = reader.stats()["flushes"]
    for i in range(20):
        writer[i] = 1
    wait_until(lambda: reader.stats()["messages"] >= 40)
    assert [reader.get(i) for i in range(20)] == [1] * 20
    assert reader.stats()["flushes"] > flushes


def test_a_failing_handler_flushes_rather_than_serving_stale(pair, redis_url):
    class Broken(PubSubNearCache):
        def on_message(self, origin, name):
            raise RuntimeError("bug")

    reader, writer = pair("pub/sub")
    broken = Broken(LRUCache(maxsize=10), RedisCache(redis_url, prefix=reader.far.prefix))
    try:
        writer["k"] = 1
        assert broken.get("k") == 1 and broken.get("k") == 1
        writer["k"] = 2
        wait_until(lambda: broken.get("k") == 2 and broken.stats()["handler_errors"] == 2)  # one per write
    finally:
        broken.close()


def test_an_invalidation_during_a_far_read_keeps_the_old_value_out_of_near(pair, redis_url):
    """The message overtakes a slow far read: what that read returns must not fill near."""
    reader, writer = pair("pub/sub")
    writer["k"] = 1

    class Slow(RedisCache):
        def get(self, key, default=None):
            value = super().get(key, default)
            seen = slow.stats()["messages"]
            writer["k"] = 2
            wait_until(lambda: slow.stats()["messages"] > seen)
            assert "other" not in slow  # another thread's call applies the message now
            return value

    slow = PubSubNearCache(LRUCache(maxsize=10), Slow(redis_url, prefix=reader.far.prefix))
    try:
        assert slow.get("k") == 1        # read before the write: fine to return
        slow.far = RedisCache(redis_url, prefix=reader.far.prefix)
        assert slow.get("k") == 2        # but it was not kept
    finally:
        slow.close()


# -- the patterns and cached()


@schemes
def test_cached_and_invalidate_work_over_a_near_cache(pair, scheme):
    reader, writer = pair(scheme)
    calls = []

    @cached(reader)
    def price(product):
        calls.append(product)
        return 100 + len(calls)

    assert price(1) == price(1) == 101 and len(calls) == 1
    assert invalidate(writer, hashkey(1)) == 1  # the key cached() made
    wait_until(lambda: price(1) == 102)


def test_repr_stats_and_close(pair):
    reader, _ = pair("tracking")
    assert "live" in repr(reader) and "mode='default'" in repr(reader)
    assert reader.cache_info().maxsize == 100
    reader.close()
    assert not reader.live and "not live" in repr(reader)


def test_tracking_memory_counts_keys_in_default_mode_and_a_prefix_in_bcast(redis_url):
    memory = tracking_memory(redis_url, keys=200)
    assert memory["default"]["tracking_total_keys"] >= 200
    assert memory["BCAST"]["tracking_total_prefixes"] >= 1
    assert memory["BCAST"]["tracking_total_keys"] < 200


def test_a_subscriber_the_server_drops_for_falling_behind_comes_back_empty():
    """Redis disconnects a subscriber whose output buffer passes client-output-buffer-limit pubsub;
    the messages in that buffer are lost, so near must come back empty."""
    with redis_server(embedded=True, config={"client-output-buffer-limit": "pubsub 1mb 1mb 0"}) as server:
        p = prefix()
        reader = MAKERS["pub/sub"](RedisCache(server.url, prefix=p, timeout=1.0))
        writer = MAKERS["pub/sub"](RedisCache(server.url, prefix=p, timeout=1.0))
        try:
            writer["k"] = 1
            assert reader.get("k") == 1 and reader.get("k") == 1
            # 32 MB at once cannot leave the server's buffer in time: the subscriber is cut.
            pipe = server.client().pipeline(transaction=False)
            for _ in range(4):
                pipe.publish(reader.channel, "x" * 8_000_000)
            pipe.set(reader.far.name_of("k"), b"2")
            pipe.publish(reader.channel, f"someone {reader.far.name_of('k')}")
            pipe.execute()
            wait_until(lambda: reader.stats()["reconnects"] >= 1 and reader.live)
            assert reader.get("k") == 2
        finally:
            reader.close()
            writer.close()


def test_the_table_formats_one_line_per_scheme():
    from cachelab.lab.near_experiments import NearRow, format_near_table, percentiles

    assert percentiles([3, 1, 2, 4], 0.5, 1.0) == (3, 4)
    assert all(p != p for p in percentiles([], 0.5))  # NaN: nothing measured
    rows = [NearRow("pub/sub", 0.3, 0.5, 0.2, 0.1, 2.0, 3.0, 1.0, 1.0, 0, 0, 0.01),
            NearRow("tracking", 0.3, 0.5, 0.2, 0.1, 2.0, 3.0, 0.0, 0.98, None, None, None)]
    lines = format_near_table(rows).splitlines()
    assert len(lines) == 3 and lines[1].startswith("pub/sub") and "1.5x" in lines[1]
    assert "of reads" in lines[1] and "of reads" not in lines[2]
