"""The SQLite store: seeded data, delays on a fake clock, counts, failures, lifetime."""

import threading

import pytest

from cachelab import FakeClock
from cachelab.lab.store import PRODUCTS, USERS, NotFoundError, Store, StoreError


@pytest.fixture
def store():
    with Store(delay_scale=0) as s:
        yield s


def test_seeded_with_the_guides_products_and_users(store):
    assert store.get_product(2) == PRODUCTS[2]
    assert store.get_user(103) == USERS[103]


def test_orders_come_from_the_seed():
    with Store(delay_scale=0, seed=1) as a, Store(delay_scale=0, seed=1) as b, \
            Store(delay_scale=0, seed=2) as c:
        orders = [s.get_user_orders(u) for s in (a, b, c) for u in USERS]
    assert orders[0:3] == orders[3:6]
    assert orders[0:3] != orders[6:9]
    assert all(1 <= len(o) <= 5 for o in orders)


def test_every_query_waits_the_delay_on_the_injected_sleep():
    clock = FakeClock()
    with Store(delay=0.05, sleep=clock.tick) as store:
        store.get_product(1)
        store.get_user(101, delay=0.2)
        store.put("k", 1)
    assert clock() == pytest.approx(0.3)


def test_delay_scale_shrinks_every_delay():
    clock = FakeClock()
    with Store(delay=0.1, delay_scale=0.5, sleep=clock.tick) as store:
        store.get_product(1)
    assert clock() == pytest.approx(0.05)


def test_counts_reads_writes_and_rows(store):
    store.get_product(1)
    store.get("missing")
    store.put_many([("a", 1), ("b", 2), ("a", 3)])
    assert store.stats() == (2, 1, 3)
    assert store.peek("a") == 3  # later pairs win; peek is not counted
    assert store.stats().reads == 2
    store.reset_stats()
    assert store.stats() == (0, 0, 0)


@pytest.mark.parametrize("value", [None, 0, "", [], {"nested": [1]}])
def test_kv_keeps_falsy_values_apart_from_missing(store, value):
    store.put("k", value)
    assert store.get("k", "absent") == value
    assert store.get("other", "absent") == "absent"


def test_unknown_ids_are_clear_errors(store):
    with pytest.raises(NotFoundError, match="no product with id 99"):
        store.get_product(99)
    with pytest.raises(NotFoundError, match="no user"):
        store.update_user(999, {"name": "x"})
    with pytest.raises(ValueError, match="not \\['password'\\]"):
        store.update_user(101, {"password": "x"})


def test_price_and_sessions_round_trip(store):
    store.set_price(1, 949)
    assert store.get_price(1) == 949 and store.get_product(1)["price"] == 949
    store.save_session("s1", {"user_id": 101, "cart": []})
    assert store.get_session("s1") == {"user_id": 101, "cart": []}
    store.add_events([{"user_id": 101, "kind": "view"}] * 3)
    assert store.count_events() == 3


def test_injected_failures_are_seeded_and_atomic():
    with Store(delay_scale=0, fail_rate=0.5, seed=3) as store:
        outcomes = []
        for i in range(20):
            try:
                store.put_many([(f"k{i}", i), (f"j{i}", i)])
                outcomes.append(True)
            except StoreError:
                outcomes.append(False)
        assert 0 < sum(outcomes) < 20
        for i, ok in enumerate(outcomes):
            assert (store.peek(f"k{i}"), store.peek(f"j{i}")) == ((i, i) if ok else (None, None))


def test_file_store_persists_and_closes(tmp_path):
    path = tmp_path / "shop.db"
    with Store(path, delay_scale=0) as store:
        store.put("k", "v")
    assert store.closed
    with pytest.raises(StoreError, match="closed"):
        store.get("k")
    with Store(path, delay_scale=0) as again:  # reopening does not seed twice
        assert again.get("k") == "v"
        assert len(again.get_user_orders(101)) == len(Store(delay_scale=0).get_user_orders(101))


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="delay"):
        Store(delay=-1)
    with pytest.raises(TypeError, match="sleep"):
        Store(sleep=0)
    with pytest.raises(ValueError, match="fail_rate"):
        Store(fail_rate=1.5)


def test_threads_share_one_store(store):
    def work(n):
        for i in range(50):
            store.put(f"{n}:{i}", i)
            store.get(f"{n}:{i}")
    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.stats()[:2] == (200, 200)
    assert store.peek("3:49") == 49


def test_the_int_key_1_and_the_str_key_1_are_two_rows(store):
    """As in a dict (and in the caches in front of it), 1 and "1" are two keys."""
    store.put(1, "int")
    store.put("1", "str")
    store.put_many([(2, "two"), ("2", "zwei")])
    assert (store.get(1), store.get("1"), store.peek(2), store.peek("2")) == ("int", "str", "two", "zwei")


def test_a_file_from_the_text_keyed_table_is_moved_over_with_its_rows(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("INSERT INTO kv VALUES ('a', '1'), ('7', '2')")
    conn.close()
    with Store(path, delay=0) as store:
        store.put(7, 3)
        assert (store.get("a"), store.get("7"), store.get(7)) == (1, 2, 3)


@pytest.mark.parametrize("make", [lambda tmp: tmp / "missing" / "x.db", lambda tmp: tmp,
                                  lambda tmp: _not_a_database(tmp)])
def test_a_path_that_cannot_be_a_database_is_named_with_the_fix(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises((FileNotFoundError, StoreError)) as raised:
        Store(path)
    assert repr(str(path)) in str(raised.value) and "':memory:'" in str(raised.value)


def _not_a_database(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database, but long enough for SQLite to read its header " * 4)
    return path
