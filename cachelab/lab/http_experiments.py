"""Notebook 15's measurements: the shop's origin load, staleness and latency under each caching layer.

Every function starts its own servers (`serve`) and stops them before it
returns.  Freshness in the shared cache runs on a FakeClock, so the counts
of requests and of stale views are the same on every run; the client-side
cache (requests-cache) keeps real time, so its runs last a few seconds of
real time against lifetimes of ten seconds or more.
"""

import collections
import concurrent.futures
import contextlib
import statistics
import time

import requests
from requests_cache import CachedSession

from ..caches import FakeClock
from ..httpcache import cache_control
from .._checks import check_int
from .http_proxy import CachingProxy, ProxyRules
from .store import Store
from .webserver import serve
from .webshop import HEADER_CHOICES, HeaderPolicy, Shop
from .workloads import zipf

__all__ = [
    "CHROMIUM", "CHROMIUM_ARGS", "LAYERS", "START", "Staleness", "browser_visits", "client_cache_counts",
    "client_session", "format_load", "format_rows", "latency", "origin_load", "shop_servers", "staleness",
]

START = 1_800_000_000  # the fake clock's start: a real date (January 2027), so Last-Modified is one too
LAYERS = ("no cache", "client caches", "shared cache", "both")
CHROMIUM = "/usr/bin/chromium"
# Offline and quiet; every host but 127.0.0.1 fails to resolve at once (request interception,
# Playwright's usual way to block the network, would also switch off the browser's HTTP cache).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]

Staleness = collections.namedtuple("Staleness", "choice origin_200 origin_304 stale_views stale_seconds")
Staleness.__doc__ = ("After a price change, seen through a shared cache: the requests that reached the "
                     "origin, and how many views (and seconds) still showed the old price.")


def client_session():
    """A requests session with an in-memory HTTP cache that obeys the server's headers, and only them.

    requests-cache's default keeps a response without Cache-Control for ever;
    `expire_after=0` makes such a response expire at once, as RFC 9111 asks.
    """
    return CachedSession(backend="memory", cache_control=True, expire_after=0)


@contextlib.contextmanager
def shop_servers(policy=HeaderPolicy(), *, clock=None, rules=ProxyRules(), delay=0.0, **shop_options):
    """Start the shop (over a fresh Store) and a shared cache in front of it; yield (shop, origin, proxy, edge).

    `origin` and `edge` are the two running servers (their logs count what
    reached each); `proxy` is the CachingProxy behind `edge`.
    """
    clock = clock if clock is not None else FakeClock(START)
    with Store(delay=delay) as store:
        shop = Shop(store, policy=policy, clock=clock, **shop_options)
        with serve(shop) as origin:
            proxy = CachingProxy(origin.url, clock=clock, rules=rules)
            with serve(proxy) as edge:
                try:
                    yield shop, origin, proxy, edge
                finally:
                    proxy.drain()  # a background revalidation must not outlive the shop it asks


def client_cache_counts(choices=HEADER_CHOICES, *, views=10):
    """For each header choice: (choice, origin 200s, origin 304s, answered from the client's cache) for `views` GETs."""
    check_int("views", views, 1)
    rows = []
    for name, policy in choices.items():
        with shop_servers(policy) as (_, origin, _, _), client_session() as session:
            cached = sum(session.get(origin.url + "/products/1").from_cache for _ in range(views))
            counts = origin.log.statuses()
        rows.append((name, counts[200], counts[304], cached))
    return rows


def staleness(choices=HEADER_CHOICES, *, views=120, change_at=30, gap=1.0):
    """One client views /products/1 through the shared cache every `gap` fake seconds; the price changes
    before view `change_at`.  Return a Staleness record per header choice."""
    check_int("views", views, 1)
    check_int("change_at", change_at, 0)
    rows = []
    for name, policy in choices.items():
        clock = FakeClock(START)
        with shop_servers(policy, clock=clock) as (shop, origin, proxy, edge), requests.Session() as client:
            old = shop.store.get_product(1)["price"]
            stale = []
            for view in range(views):
                if view == change_at:
                    shop.set_price(1, old + 100)
                page = client.get(edge.url + "/products/1").text
                proxy.drain()  # a stale-while-revalidate refresh finishes before the next view
                if view >= change_at and f"${old}<" in page:
                    stale.append(view)
                clock.tick(gap)
            counts = origin.log.statuses()
        seconds = (max(stale) - change_at + 1) * gap if stale else 0
        rows.append(Staleness(name, counts[200], counts[304], len(stale), seconds))
    return rows


def origin_load(choices=HEADER_CHOICES, *, views=100, users=3, seed=0):
    """Requests reaching the origin per 100 page views, for each header choice and caching layer.

    A seeded Zipf-popular sequence of product pages, viewed by `users`
    clients in turn, all within a few seconds: each client has its own
    cache in the "client caches" layer; they share the proxy in "shared
    cache"; "both" has the two.  Returns {choice: {layer: (200s, 304s)}}.
    """
    check_int("views", views, 1)
    check_int("users", users, 1)
    pages = (zipf(views, n_keys=5, alpha=1.0, seed=seed) + 1).tolist()  # product ids 1-5
    table = {}
    for name, policy in choices.items():
        table[name] = {}
        for layer in LAYERS:
            clock = FakeClock(START)
            with shop_servers(policy, clock=clock) as (_, origin, proxy, edge), contextlib.ExitStack() as stack:
                make = client_session if layer in ("client caches", "both") else requests.Session
                clients = [stack.enter_context(make()) for _ in range(users)]
                base = edge.url if layer in ("shared cache", "both") else origin.url
                for i, page in enumerate(pages):
                    clients[i % users].get(f"{base}/products/{page}")
                    clock.tick(0.05)
                proxy.drain()
                counts = origin.log.statuses()
            table[name][layer] = (counts[200] * 100 / views, counts[304] * 100 / views)
    return table


def latency(*, delay=0.05, views=20):
    """Median milliseconds per page view (real time; the store's queries wait `delay` s), per path.

    Compares the origin (every view runs the query), a revalidation that
    gets a 304 (the app still runs the query to compute the ETag), a
    shared-cache hit, the shared cache's expired copy revalidated while the
    user waits against the same copy served stale with
    stale-while-revalidate (the refresh runs after the answer), and a
    client-cache hit.
    """
    check_int("views", views, 1)
    product = "/products/1"

    def timed(server, session, *, between=lambda: None):
        session.get(server.url + product)  # the first view fills the caches
        times = []
        for _ in range(views):
            between()
            start = time.perf_counter()
            session.get(server.url + product)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    expired = HeaderPolicy(product=cache_control(public=True, max_age=10))
    # (label, header policy, through the shared cache?, a client cache?, fake seconds between views)
    runs = [("origin, no caching", HEADER_CHOICES["no headers"], False, False, 0),
            ("revalidation: a 304 from the origin", HEADER_CHOICES["no-cache + ETag"], False, True, 0),
            ("shared-cache hit (the proxy)", HEADER_CHOICES["max-age=60"], True, False, 0),
            ("shared cache, expired: revalidated in line", expired, True, False, 11),
            ("shared cache, expired: stale-while-revalidate", HEADER_CHOICES["max-age=10, swr=50"], True, False, 11),
            ("client-cache hit (requests-cache)", HEADER_CHOICES["max-age=60"], False, True, 0)]
    rows = []
    for label, policy, shared, client, gap in runs:
        clock = FakeClock(START)
        with shop_servers(policy, clock=clock, delay=delay) as (_, origin, proxy, edge), \
                (client_session() if client else requests.Session()) as session:

            def between():
                proxy.drain()  # the last background refresh is not part of this view's time
                clock.tick(gap)

            rows.append((label, timed(edge if shared else origin, session, between=between)))
    return rows


def browser_visits(policies, *, executable=CHROMIUM):
    """Drive Chromium through four navigations of the shop per header policy; return what the shop's log saw.

    `policies` maps a name to a HeaderPolicy; each gets its own shop server
    and a fresh browser context (an empty cache).  The steps: open product
    1, open product 2, open product 1 again (typing its address), reload it.
    Returns {name: [(step, what reached the server)]}, where that is "200",
    "304", or "browser cache" when the page came without a request.
    Playwright's sync API runs in a worker thread, as a Jupyter kernel
    already runs an asyncio loop in its main thread.
    """
    if not isinstance(policies, dict) or not all(isinstance(p, HeaderPolicy) for p in policies.values()):
        raise TypeError(f"policies must map names to HeaderPolicy objects, got {policies!r}")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(_browse, policies, executable).result()


def _browse(policies, executable):
    from playwright.sync_api import sync_playwright

    steps = [("open /products/1", "goto", "/products/1"), ("open /products/2", "goto", "/products/2"),
             ("open /products/1 again", "goto", "/products/1"), ("reload /products/1", "reload", None)]
    seen = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for name, policy in policies.items():
                with shop_servers(policy, clock=time.time) as (_, origin, _, _):
                    context = browser.new_context(service_workers="block")  # its own, empty, HTTP cache
                    page = context.new_page()
                    seen[name] = []
                    for label, action, path in steps:
                        before = len(origin.log)
                        if action == "goto":
                            page.goto(origin.url + path, wait_until="load")
                        else:
                            page.reload(wait_until="load")
                        pages = [e for e in origin.log.entries[before:] if e.path.startswith("/products/")]
                        seen[name].append((label, str(pages[-1].status) if pages else "browser cache"))
                    context.close()
        finally:
            browser.close()
    return seen


def format_rows(header, rows):
    """A plain-text table: `header` and rows of equal length, numbers right-aligned."""
    text = [[str(h) for h in header]] + [[f"{v:.1f}" if isinstance(v, float) else str(v) for v in row]
                                         for row in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w)
                               in enumerate(zip(row, widths))).rstrip() for row in text)


def format_load(table):
    """origin_load()'s table as text: per header choice and layer, full pages (200) + revalidations (304)."""
    rows = [(choice, *(f"{full:.0f} + {revalidated:.0f}" for full, revalidated in layers.values()))
            for choice, layers in table.items()]
    return format_rows(["per 100 views: 200 + 304", *LAYERS], rows)
