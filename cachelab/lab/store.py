"""A real database behind the caches: SQLite, seeded, slow on purpose.

`Store` creates and seeds the guide's data (five products, users 101-103,
orders drawn from a seed, sessions, analytics events, prices) plus a small
key -> value table for the pattern experiments.  Every query first waits
`delay` seconds, so the guide's "~50 ms miss" is real, and every query is
counted, so a notebook can show the load a cache takes off the database.

Tests pass `delay_scale=0` (no waiting) or `sleep=clock.tick` with a
`FakeClock`, so nothing really sleeps.
"""

import collections
import json
import os
import random
import sqlite3
import threading
import time
from numbers import Integral, Real

from .._checks import check_callable, check_seconds

__all__ = ["MAX_DELAY", "NotFoundError", "PRODUCTS", "Store", "StoreError", "StoreStats", "USERS"]

MAX_DELAY = threading.TIMEOUT_MAX  # the longest wait time.sleep() takes (about 292 years)

PRODUCTS = {
    1: {"id": 1, "name": "iPhone 14", "price": 999, "category": "phones"},
    2: {"id": 2, "name": "MacBook Pro", "price": 2399, "category": "laptops"},
    3: {"id": 3, "name": "AirPods", "price": 249, "category": "accessories"},
    4: {"id": 4, "name": "iPad Pro", "price": 1099, "category": "tablets"},
    5: {"id": 5, "name": "Apple Watch", "price": 399, "category": "watches"},
}
USERS = {
    101: {"id": 101, "name": "John Doe", "email": "john@example.com", "tier": "premium"},
    102: {"id": 102, "name": "Jane Smith", "email": "jane@example.com", "tier": "basic"},
    103: {"id": 103, "name": "Bob Wilson", "email": "bob@example.com", "tier": "premium"},
}

StoreStats = collections.namedtuple("StoreStats", "reads writes rows_written")
StoreStats.__doc__ = "Queries run against the store: reads, writes (round trips) and rows written."

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, name TEXT, category TEXT);
CREATE TABLE IF NOT EXISTS prices (product_id INTEGER PRIMARY KEY, price REAL);
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, tier TEXT);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, user_id INTEGER, product_id INTEGER, quantity INTEGER, total INTEGER);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user_id INTEGER, data TEXT);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER, kind TEXT, data TEXT);
CREATE TABLE IF NOT EXISTS kv (key PRIMARY KEY, value TEXT);
"""
# The kv key column has no type, so SQLite keeps 1 and '1' apart (a TEXT column
# would turn 1 into '1' and give both one row).  A file made with the TEXT column
# is moved over once; its keys stay the text they were stored as.
_UNTYPED_KV = """
ALTER TABLE kv RENAME TO kv_text_keys;
CREATE TABLE kv (key PRIMARY KEY, value TEXT);
INSERT INTO kv SELECT key, value FROM kv_text_keys;
DROP TABLE kv_text_keys;
"""


class StoreError(Exception):
    """A query failed: an injected write failure (`fail_rate=`), or the store is closed."""


class NotFoundError(LookupError):
    """The database has no row for the requested id."""


class Store:
    """A seeded SQLite database whose every query waits `delay` seconds and is counted.

    `path` is a file name or ":memory:" (the default).  One connection is
    shared by all threads behind a lock, so a write-behind flusher thread
    can use the store while the application reads from it.  In the kv
    table the int key 1 and the str key "1" are two keys, as in a dict.
    """

    # State:
    #   _conn     the sqlite3 connection, shared across threads (check_same_thread=False)
    #   _lock     serializes queries on that connection
    #   _reads, _writes, _rows   counts for stats()
    #   _fail     random source for injected write failures
    def __init__(self, path=":memory:", *, delay=0.05, delay_scale=1.0, sleep=time.sleep,
                 seed=0, fail_rate=0.0):
        self.delay = _check_delay("delay", delay)
        self.delay_scale = _check_delay("delay_scale", delay_scale)
        if self.delay * self.delay_scale > MAX_DELAY:
            raise ValueError(f"delay * delay_scale must be at most {MAX_DELAY:.4g} s, the longest "
                             f"time.sleep() takes, got {delay!r} * {delay_scale!r}")
        check_callable("sleep", sleep, "time.sleep")
        if isinstance(fail_rate, bool) or not isinstance(fail_rate, Real):
            raise TypeError(f"fail_rate must be a number in [0, 1), got {fail_rate!r}")
        if not 0 <= fail_rate < 1:
            raise ValueError(f"fail_rate must be in [0, 1), got {fail_rate!r}")
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a file name or ':memory:', got {path!r}")
        if isinstance(seed, bool) or not isinstance(seed, (Integral, type(None))):
            raise TypeError(f"seed must be an integer or None, got {seed!r}")
        self.path = os.fspath(path)
        self.fail_rate = fail_rate
        self._sleep = sleep
        self._fail = random.Random(seed)
        self._lock = threading.Lock()
        self._reads = self._writes = self._rows = 0
        self._conn = _connect(self.path)
        if not self._conn.execute("SELECT 1 FROM products").fetchone():
            self._seed(random.Random(seed))

    def _seed(self, rng):
        """Fill the guide's products and users, and draw each user 1-5 orders."""
        with self._conn:
            for p in PRODUCTS.values():
                self._conn.execute("INSERT INTO products VALUES (?, ?, ?)", (p["id"], p["name"], p["category"]))
                self._conn.execute("INSERT INTO prices VALUES (?, ?)", (p["id"], p["price"]))
            for u in USERS.values():
                self._conn.execute("INSERT INTO users VALUES (?, ?, ?, ?)",
                                   (u["id"], u["name"], u["email"], u["tier"]))
                for i in range(rng.randint(1, 5)):
                    self._conn.execute(
                        "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
                        (f"order_{u['id']}_{i}", u["id"], rng.choice(list(PRODUCTS)),
                         rng.randint(1, 3), rng.randint(100, 1000)))

    # -- plumbing: every query goes through _read or _write

    def _wait(self, delay):
        seconds = self.delay if delay is None else _check_delay("delay", delay)
        if seconds * self.delay_scale > MAX_DELAY:
            raise ValueError(f"delay must be at most {MAX_DELAY:.4g} s / delay_scale, got {delay!r}")
        if seconds * self.delay_scale:
            # Outside the lock: a slow query should not block the other threads' queries.
            self._sleep(seconds * self.delay_scale)

    def _read(self, sql, args=(), *, delay=None):
        self._wait(delay)
        with self._lock:
            self._check_open()
            self._reads += 1
            return self._conn.execute(sql, args).fetchall()

    def _write(self, sql, rows, *, delay=None):
        self._wait(delay)
        with self._lock:
            self._check_open()
            self._writes += 1
            if self.fail_rate and self._fail.random() < self.fail_rate:
                raise StoreError(f"injected write failure ({self.fail_rate:.0%} of writes fail)")
            with self._conn:  # one transaction: all rows or none
                cursor = self._conn.executemany(sql, rows)
            self._rows += len(rows)
            return cursor.rowcount

    def _check_open(self):
        if self._conn is None:
            raise StoreError("the store is closed")

    # -- the guide's queries

    def get_product(self, product_id, *, delay=None):
        """Return the product as the guide's dict, with its current price."""
        rows = self._read(
            "SELECT p.id, p.name, r.price, p.category FROM products p "
            "JOIN prices r ON r.product_id = p.id WHERE p.id = ?", (product_id,), delay=delay)
        if not rows:
            raise NotFoundError(f"no product with id {product_id!r}; the catalog has ids {sorted(PRODUCTS)}")
        pid, name, price, category = rows[0]
        return {"id": pid, "name": name, "price": _number(price), "category": category}

    def get_user(self, user_id, *, delay=None):
        """Return the user as the guide's dict."""
        rows = self._read("SELECT id, name, email, tier FROM users WHERE id = ?", (user_id,), delay=delay)
        if not rows:
            raise NotFoundError(f"no user with id {user_id!r}")
        return dict(zip(("id", "name", "email", "tier"), rows[0]))

    def get_user_orders(self, user_id, *, delay=None):
        """Return the user's orders (an empty list for a user with none)."""
        rows = self._read("SELECT id, product_id, quantity, total FROM orders WHERE user_id = ? ORDER BY id",
                          (user_id,), delay=delay)
        return [dict(zip(("id", "product_id", "quantity", "total"), row)) for row in rows]

    def update_user(self, user_id, changes, *, delay=None):
        """Change some of a user's name, email and tier."""
        bad = set(changes) - {"name", "email", "tier"}
        if bad:
            raise ValueError(f"changes may set name, email or tier, not {sorted(bad)}")
        if not changes:
            return
        columns = ", ".join(f"{c} = ?" for c in changes)
        if not self._write(f"UPDATE users SET {columns} WHERE id = ?", [(*changes.values(), user_id)],
                           delay=delay):
            raise NotFoundError(f"no user with id {user_id!r}")

    def get_price(self, product_id, *, delay=None):
        """Return a product's current price."""
        rows = self._read("SELECT price FROM prices WHERE product_id = ?", (product_id,), delay=delay)
        if not rows:
            raise NotFoundError(f"no price for product {product_id!r}")
        return _number(rows[0][0])

    def set_price(self, product_id, price, *, delay=None):
        """Set a product's price."""
        if isinstance(price, bool) or not isinstance(price, Real) or not price >= 0:
            raise ValueError(f"price must be a number >= 0, got {price!r}")
        if not self._write("UPDATE prices SET price = ? WHERE product_id = ?", [(price, product_id)],
                           delay=delay):
            raise NotFoundError(f"no product with id {product_id!r}")

    def save_session(self, session_id, data, *, delay=None):
        """Create or replace a session; `data` is any JSON value."""
        self._write("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)",
                    [(session_id, data.get("user_id") if isinstance(data, dict) else None, json.dumps(data))],
                    delay=delay)

    def get_session(self, session_id, *, delay=None):
        """Return a session's data."""
        rows = self._read("SELECT data FROM sessions WHERE id = ?", (session_id,), delay=delay)
        if not rows:
            raise NotFoundError(f"no session {session_id!r}")
        return json.loads(rows[0][0])

    def add_events(self, events, *, delay=None):
        """Append analytics events, each a dict with user_id and kind, in one query."""
        self._write("INSERT INTO events (user_id, kind, data) VALUES (?, ?, ?)",
                    [self.check_event(e) for e in events], delay=delay)

    @staticmethod
    def check_event(event):
        """Return the row add_events() stores for event; TypeError or ValueError if it can't be stored.

        No query runs and nothing changes, so a write-behind queue can refuse
        a bad event before queueing it.
        """
        if not isinstance(event, dict) or "user_id" not in event or "kind" not in event:
            raise TypeError(f"an event must be a dict with user_id and kind, got {event!r}")
        return (_sql_value("user_id", event["user_id"]), _sql_value("kind", event["kind"]),
                _json("event", event))

    def count_events(self):
        """Return how many analytics events are stored (not counted as a query)."""
        with self._lock:
            self._check_open()
            return self._conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    # -- a key -> value table for the pattern experiments

    def get(self, key, default=None, *, delay=None):
        """Return the value stored under key, or default."""
        rows = self._read("SELECT value FROM kv WHERE key = ?", (key,), delay=delay)
        return json.loads(rows[0][0]) if rows else default

    def put(self, key, value, *, delay=None):
        """Store one value (any JSON value, None and 0 included)."""
        self.put_many([(key, value)], delay=delay)

    def put_many(self, items, *, delay=None):
        """Store (key, value) pairs in one query and one transaction; later pairs win.

        Every pair is checked first (see check_put), so a bad one stores nothing.
        """
        self._write("INSERT OR REPLACE INTO kv VALUES (?, ?)",
                    [self.check_put(key, value) for key, value in items], delay=delay)

    @staticmethod
    def check_put(key, value):
        """Return the row put() stores; TypeError or ValueError if key or value can't be stored.

        Keys are strings or 64-bit integers; values are JSON values (dict,
        list, str, int, float, bool, None).  No query runs, so this is the
        `check=` a write-behind queue over `put_many` calls before queueing.
        """
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise TypeError(f"key must be a str or an int, got {key!r}")
        return _sql_value("key", key), _json("value", value)

    def peek(self, key, default=None):
        """Return a stored value without waiting or counting: for checking, not for serving."""
        with self._lock:
            self._check_open()
            row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    # -- statistics and lifetime

    def stats(self):
        """Return StoreStats(reads, writes, rows_written) since creation or reset_stats()."""
        return StoreStats(self._reads, self._writes, self._rows)

    def reset_stats(self):
        """Start counting queries from zero."""
        with self._lock:
            self._reads = self._writes = self._rows = 0

    @property
    def closed(self):
        """True once close() has run."""
        return self._conn is None

    def close(self):
        """Close the connection; closing twice is harmless."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else f"reads={self._reads}, writes={self._writes}"
        return f"Store({self.path!r}, delay={self.delay!r}, {state})"


def _connect(path):
    """Open (creating if need be) the database at path, or raise naming the path and the fix."""
    folder = os.path.dirname(os.path.abspath(path))
    if path != ":memory:" and not os.path.isdir(folder):
        raise FileNotFoundError(f"path {path!r}: the folder {folder!r} does not exist; create it "
                                "first (os.makedirs) or pass ':memory:' for a database in memory")
    conn = None
    try:
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.executescript(_SCHEMA)
        columns = conn.execute("PRAGMA table_info(kv)").fetchall()
        if any(name == "key" and kind.upper() == "TEXT" for _, name, kind, *_ in columns):
            conn.executescript(_UNTYPED_KV)
    except sqlite3.Error as error:
        if conn is not None:
            conn.close()
        raise StoreError(f"path {path!r} can't be opened as an SQLite database ({error}); pass a "
                         "new file name, a store's file, or ':memory:'") from None
    return conn


def _check_delay(name, value):
    """A delay in seconds that time.sleep() can take: 0 <= value <= MAX_DELAY."""
    check_seconds(name, value)
    if value > MAX_DELAY:
        raise ValueError(f"{name} must be at most {MAX_DELAY:.4g} s, the longest time.sleep() takes, "
                         f"got {value!r}")
    return float(value)


def _sql_value(name, value):
    """Refuse what SQLite can't bind: integers beyond 64 bits, and non-scalars."""
    if isinstance(value, int) and not -2**63 <= value < 2**63:
        raise ValueError(f"{name} {value!r} does not fit in a 64-bit SQLite integer")
    if value is not None and not isinstance(value, (str, int, float)):
        raise TypeError(f"{name} must be a str, a number or None, got {value!r}")
    return value


def _json(name, value):
    """Return value as JSON text, or raise naming what can't be encoded."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError, RecursionError) as error:
        raise TypeError(f"{name} {value!r} can't be stored: {error}; the store keeps JSON values "
                        "(dict, list, str, int, float, bool, None)") from None


def _number(value):
    """SQLite hands back 999.0 for a REAL column; show it as the guide's 999."""
    return int(value) if float(value).is_integer() else value
