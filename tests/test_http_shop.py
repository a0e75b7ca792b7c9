"""The shop as a real web app on a loopback port, the toy shared cache in front of it, and their attacks.

Servers are real (werkzeug on 127.0.0.1); freshness runs on a FakeClock,
so every count here is exact.
"""

import threading

import pytest
import requests

from cachelab.lab.http_experiments import (
    client_cache_counts, origin_load, shop_servers, staleness,
)
from cachelab.lab.http_proxy import ProxyRules
from cachelab.lab.webserver import serve
from cachelab.lab.webshop import HEADER_CHOICES, HEADERS_OFF, HeaderPolicy, shown

JOHN, JANE = {"user": "101"}, {"user": "102"}


def get(server, path, **options):
    return requests.get(server.url + path, **options)


# -- the shop alone

def test_product_page_carries_the_policy_and_answers_304():
    with shop_servers() as (shop, origin, _, _):
        first = get(origin, "/products/1")
        assert first.status_code == 200 and "iPhone 14 $999" in shown(first.text)
        assert first.headers["Cache-Control"] == "public, max-age=60"
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert get(origin, "/products/1", headers={"If-None-Match": etag}).status_code == 304
        assert get(origin, "/products/1", headers={"If-Modified-Since": modified}).status_code == 304
        shop.clock.tick(5)
        shop.set_price(1, 899)
        changed = get(origin, "/products/1", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and "$899" in changed.text and changed.headers["ETag"] != etag
        assert get(origin, "/products/1", headers={"If-Modified-Since": modified}).status_code == 200
        assert [(e.status, e.conditional) for e in origin.log.entries] == [
            (200, False), (304, True), (304, True), (200, True), (200, True)]


def test_headers_off_sends_no_caching_headers_and_never_304():
    with shop_servers(HEADERS_OFF) as (_, origin, _, _):
        page = get(origin, "/products/1")
        assert not {"Cache-Control", "ETag", "Last-Modified", "Vary"} & set(page.headers)
        assert get(origin, "/products/1", headers={"If-None-Match": "*"}).status_code == 200


def test_account_page_needs_the_cookie_and_strict_paths_refuse_the_rest():
    with shop_servers() as (_, origin, _, _):
        assert get(origin, "/account").status_code == 401
        page = get(origin, "/account", cookies=JOHN)
        assert "John Doe john@example.com" in shown(page.text)
        assert page.headers["Cache-Control"] == "private, no-cache" and page.headers["Vary"] == "Cookie"
        assert get(origin, "/account/profile.css", cookies=JOHN).status_code == 404
        assert get(origin, "/products/99").status_code == 404
    with shop_servers(strict_paths=False) as (_, origin, _, _):
        assert "John Doe" in get(origin, "/account/profile.css", cookies=JOHN).text


def test_the_server_stops_with_its_block():
    before = set(threading.enumerate())
    with shop_servers() as (_, origin, _, edge):
        url = origin.url
        assert get(origin, "/").status_code == 200
    assert not {t for t in set(threading.enumerate()) - before if t.name.startswith("serve:")}
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)


# -- the shared cache

def test_proxy_hits_within_max_age_and_revalidates_after():
    with shop_servers() as (shop, origin, proxy, edge):
        outcomes = []
        for _ in range(3):
            outcomes.append(get(edge, "/products/1").headers["X-Cache"])
            shop.clock.tick(40)
        assert outcomes == ["MISS", "HIT", "REVALIDATED"]
        assert origin.log.statuses() == {200: 1, 304: 1}


def test_a_successful_post_through_the_proxy_drops_the_stored_page():
    with shop_servers() as (_, origin, _, edge):
        assert [get(edge, "/products/1").headers["X-Cache"] for _ in range(2)] == ["MISS", "HIT"]
        refused = requests.post(edge.url + "/products/1", data={"price": "cheap"}, allow_redirects=False)
        assert refused.status_code == 400 and get(edge, "/products/1").headers["X-Cache"] == "HIT"
        changed = requests.post(edge.url + "/products/1", data={"price": "899"}, allow_redirects=False)
        assert changed.status_code == 303 and changed.headers["Location"] == "/products/1"
        after = get(edge, "/products/1")
        assert after.headers["X-Cache"] == "MISS" and "$899" in after.text


def test_proxy_answers_a_clients_conditional_get_itself():
    with shop_servers() as (_, origin, _, edge):
        etag = get(edge, "/products/1").headers["ETag"]
        assert get(edge, "/products/1", headers={"If-None-Match": etag}).status_code == 304
        assert origin.log.statuses() == {200: 1}


@pytest.mark.parametrize("choice, outcomes", [
    ("no headers", ["PASS", "PASS"]),
    ("no-store", ["PASS", "PASS"]),
    ("no-cache + ETag", ["MISS", "REVALIDATED"]),
    ("max-age=0, s-maxage=10", ["MISS", "HIT"]),
])
def test_proxy_stores_only_what_the_headers_allow(choice, outcomes):
    with shop_servers(HEADER_CHOICES[choice]) as (_, _, _, edge):
        assert [get(edge, "/products/1").headers["X-Cache"] for _ in range(2)] == outcomes


def test_stale_while_revalidate_serves_stale_once_and_refreshes_behind():
    with shop_servers(HEADER_CHOICES["max-age=10, swr=50"]) as (shop, origin, proxy, edge):
        get(edge, "/products/1")
        shop.clock.tick(20)
        shop.set_price(1, 899)
        stale = get(edge, "/products/1")
        proxy.drain()
        assert stale.headers["X-Cache"] == "STALE" and "$999" in stale.text
        fresh = get(edge, "/products/1")
        assert fresh.headers["X-Cache"] == "HIT" and "$899" in fresh.text
        assert origin.log.statuses() == {200: 2}


def test_stale_if_error_covers_an_outage_within_its_window():
    policy = HeaderPolicy(product="public, max-age=10, stale-if-error=60")
    with shop_servers(policy) as (shop, origin, _, edge):
        get(edge, "/products/1")
        with shop.outage():
            shop.clock.tick(30)
            during = get(edge, "/products/1")
            shop.clock.tick(60)
            after_window = get(edge, "/products/1")
        assert during.status_code == 200 and during.headers["X-Cache"] == "STALE-IF-ERROR"
        assert after_window.status_code == 503
        assert origin.log.statuses() == {200: 1, 503: 2}


# -- the attacks, and their fixes

LEAKY = HeaderPolicy(account="private, max-age=60", vary=None)
PUBLIC_PER_USER = HeaderPolicy(account="public, max-age=60", vary="Cookie")


@pytest.mark.parametrize("policy, rules, leaks", [
    (LEAKY, ProxyRules(obey_private=False), True),
    (LEAKY, ProxyRules(), False),
    (PUBLIC_PER_USER, ProxyRules(obey_vary=False), True),
    (PUBLIC_PER_USER, ProxyRules(), False),
], ids=["ignores private", "obeys private", "ignores Vary", "obeys Vary"])
def test_a_shared_cache_that_ignores_private_or_vary_leaks_one_users_page(policy, rules, leaks):
    with shop_servers(policy, rules=rules) as (_, _, _, edge):
        assert "John Doe" in get(edge, "/account", cookies=JOHN).text
        jane_sees = shown(get(edge, "/account", cookies=JANE).text)
        assert ("John Doe" in jane_sees) is leaks and ("Jane Smith" in jane_sees) is not leaks


@pytest.mark.parametrize("rules, poisoned", [(ProxyRules(pass_forwarded_host=True), True), (ProxyRules(), False)])
def test_an_unkeyed_forwarded_host_poisons_the_page_for_everyone(rules, poisoned):
    with shop_servers(rules=rules, reflect_forwarded_host=True) as (_, _, _, edge):
        get(edge, "/products/1", headers={"X-Forwarded-Host": "evil.example"})
        victim = shown(get(edge, "/products/1").text)
        assert ("stylesheet from evil.example" in victim) is poisoned


@pytest.mark.parametrize("rules, strict, leaks", [
    (ProxyRules(cache_static_paths=300), False, True),
    (ProxyRules(), False, False),
    (ProxyRules(cache_static_paths=300), True, False),
], ids=["by extension", "obeys headers", "strict paths"])
def test_web_cache_deception(rules, strict, leaks):
    with shop_servers(rules=rules, strict_paths=strict) as (_, _, _, edge):
        get(edge, "/account/profile.css", cookies=JOHN)  # the victim follows the attacker's link
        attacker = get(edge, "/account/profile.css")  # no cookie
        assert ("john@example.com" in attacker.text) is leaks


# -- the notebook's measurements, exactly

def test_client_cache_counts():
    rows = {row[0]: row[1:] for row in client_cache_counts(views=5)}
    assert rows["no headers"] == (5, 0, 0)
    assert rows["no-store"] == (5, 0, 0)
    assert rows["no-cache + ETag"] == (1, 4, 4)
    assert rows["max-age=60"] == (1, 0, 4)


def test_staleness_after_a_price_change():
    """The notebook's table, with the notebook's parameters: its prose quotes these numbers."""
    rows = {row.choice: row[1:] for row in staleness()}
    assert rows == {
        "no headers": (120, 0, 0, 0), "no-store": (120, 0, 0, 0), "no-cache + ETag": (2, 118, 0, 0),
        "max-age=60": (2, 0, 30, 30), "max-age=0, s-maxage=10": (2, 10, 0, 0), "max-age=10, swr=50": (2, 10, 1, 1)}


def test_origin_load_per_layer():
    """Per 100 views: 15 pages for 3 users' caches, 5 for one shared cache; no-cache turns the rest into 304s."""
    choices = {k: HEADER_CHOICES[k] for k in ("no headers", "max-age=60", "no-cache + ETag", "max-age=0, s-maxage=10")}
    table = origin_load(choices)
    assert set(table["no headers"].values()) == {(100, 0)}
    assert table["max-age=60"] == {"no cache": (100, 0), "client caches": (15, 0), "shared cache": (5, 0),
                                   "both": (5, 0)}
    assert table["no-cache + ETag"] == {"no cache": (100, 0), "client caches": (15, 85), "shared cache": (5, 95),
                                        "both": (5, 95)}
    assert table["max-age=0, s-maxage=10"]["client caches"] == (15, 85)
    assert table["max-age=0, s-maxage=10"]["both"] == (5, 0)


def test_a_background_revalidation_ends_before_the_servers_stop():
    with shop_servers(HEADER_CHOICES["max-age=10, swr=50"]) as (shop, origin, proxy, edge):
        get(edge, "/products/1")
        shop.clock.tick(11)
        assert get(edge, "/products/1").headers["X-Cache"] == "STALE"
    assert origin.log.statuses() == {200: 1, 304: 1}  # the refresh ran, against a live shop


def test_an_unreachable_origin_is_a_502_or_the_stale_copy():
    policy = HeaderPolicy(product="public, max-age=10, stale-if-error=60")
    with shop_servers(policy) as (shop, origin, proxy, _):
        with serve(proxy) as edge:  # a second front door, to keep after the origin is gone
            get(edge, "/products/1")
    with serve(proxy) as edge:  # the origin's server has stopped: nothing listens on its port
        shop.clock.tick(30)
        stale = get(edge, "/products/1")
        post = requests.post(edge.url + "/products/1", data={"price": "1"})
        missing = get(edge, "/products/2")
    assert (stale.status_code, stale.headers["X-Cache"]) == (200, "STALE-IF-ERROR")
    assert (post.status_code, missing.status_code, missing.headers["X-Cache"]) == (502, 502, "ERROR")
