"""cachelab.httpcache: building Cache-Control, validators, conditional GETs, and a shared cache's rules."""

import pytest

from cachelab.httpcache import (
    cache_control, etag_for, etag_matches, freshness_lifetime, http_date, not_modified,
    parse_cache_control, parse_http_date, stale_windows, storable, vary_key,
)

T = 1_800_000_000


@pytest.mark.parametrize("options, header", [
    ({"max_age": 60}, "max-age=60"),
    ({"public": True, "max_age": 60}, "public, max-age=60"),
    ({"public": True, "max_age": 0, "s_maxage": 10}, "public, max-age=0, s-maxage=10"),
    ({"private": True, "no_cache": True}, "private, no-cache"),
    ({"no_store": True}, "no-store"),
    ({"max_age": 10, "stale_while_revalidate": 50, "stale_if_error": 300},
     "max-age=10, stale-while-revalidate=50, stale-if-error=300"),
    ({"public": True, "max_age": 86400, "immutable": True}, "public, max-age=86400, immutable"),
    ({"max_age": 5, "must_revalidate": True}, "max-age=5, must-revalidate"),
])
def test_cache_control_builds_the_header_and_parses_back(options, header):
    assert cache_control(**options) == header
    parsed = parse_cache_control(header)
    for name, value in options.items():
        assert parsed[name.replace("_", "-")] == (True if value is True else value)


@pytest.mark.parametrize("options, name", [
    ({"public": True, "private": True}, "private"),
    ({"private": True, "s_maxage": 10}, "s_maxage"),
    ({"no_store": True, "max_age": 10}, "no_store"),
    ({}, "directive"),
    ({"max_age": 1.5}, "max_age"),
    ({"max_age": -1}, "max_age"),
    ({"public": "yes"}, "public"),
])
def test_cache_control_refuses_contradictions_and_bad_values(options, name):
    with pytest.raises((ValueError, TypeError), match=name):
        cache_control(**options)


def test_parse_cache_control_is_case_insensitive_and_safe_on_bad_numbers():
    assert parse_cache_control('Public, MAX-AGE="30", s-maxage=abc') == {"public": True, "max-age": 30,
                                                                        "s-maxage": 0}
    assert parse_cache_control(None) == {} and parse_cache_control(" , ") == {}


def test_etags_follow_the_bytes():
    assert etag_for(b"price 999") == etag_for("price 999")
    assert etag_for(b"price 999") != etag_for(b"price 1099")
    tag = etag_for(b"x")
    assert tag.startswith('"') and tag.endswith('"') and etag_for(b"x", weak=True) == "W/" + tag


@pytest.mark.parametrize("header, matches", [
    ('"a"', True), ('W/"a"', True), ('"b", "a"', True), ("*", True), ('"b"', False), ('"ab"', False),
    (None, False),
])
def test_if_none_match_compares_weakly(header, matches):
    assert etag_matches(header, '"a"') is matches


def test_not_modified_prefers_if_none_match_over_if_modified_since():
    since = http_date(T)
    assert not_modified({"If-None-Match": '"a"'}, etag='"a"', last_modified=T)
    assert not_modified({"if-modified-since": since}, etag='"a"', last_modified=T)
    assert not not_modified({"If-Modified-Since": since}, etag='"a"', last_modified=T + 1)
    # A stale tag says "changed" even when the date says "not modified".
    assert not not_modified({"If-None-Match": '"old"', "If-Modified-Since": since}, etag='"a"', last_modified=T)
    assert not not_modified({}, etag='"a"', last_modified=T)
    assert not not_modified({"If-Modified-Since": "yesterday"}, last_modified=T)


def test_http_dates_round_trip_to_the_second():
    assert http_date(T) == "Fri, 15 Jan 2027 08:00:00 GMT"
    assert parse_http_date(http_date(T + 0.7)) == T
    assert parse_http_date("not a date") is None and parse_http_date(None) is None


@pytest.mark.parametrize("request_headers, response_headers, status, shared, ok", [
    ({}, {"Cache-Control": "public, max-age=60"}, 200, True, True),
    ({}, {"Cache-Control": "no-store"}, 200, False, False),
    ({}, {"Cache-Control": "private, max-age=60"}, 200, True, False),
    ({}, {"Cache-Control": "private, max-age=60"}, 200, False, True),
    ({"Authorization": "Basic x"}, {"Cache-Control": "max-age=60"}, 200, True, False),
    ({"Authorization": "Basic x"}, {"Cache-Control": "s-maxage=60"}, 200, True, True),
    ({}, {"Cache-Control": "max-age=60", "Vary": "*"}, 200, True, False),
    ({}, {}, 200, True, False),
    ({}, {"ETag": '"a"'}, 200, True, True),
    ({}, {"Cache-Control": "max-age=60"}, 500, True, False),
])
def test_storable(request_headers, response_headers, status, shared, ok):
    stored, reason = storable(request_headers, response_headers, status=status, shared=shared)
    assert stored is ok and reason


def test_freshness_lifetime_shared_and_private():
    both = {"Cache-Control": "max-age=5, s-maxage=60"}
    assert freshness_lifetime(both, shared=True) == 60 and freshness_lifetime(both, shared=False) == 5
    assert freshness_lifetime({"Cache-Control": "no-cache, max-age=60"}) == 0
    assert freshness_lifetime([("cache-control", "max-age=7")]) == 7  # pairs, as http.client gives them
    assert freshness_lifetime({}) == 0


def test_stale_windows_and_must_revalidate():
    assert stale_windows({"Cache-Control": "max-age=1, stale-while-revalidate=5, stale-if-error=9"}) == (5, 9)
    assert stale_windows({"Cache-Control": "max-age=1, stale-if-error=9, must-revalidate"}) == (0, 0)
    assert stale_windows({}) == (0, 0)


def test_vary_key_holds_the_named_request_headers():
    john, jane = {"Cookie": "user=101", "Accept": "text/html"}, {"cookie": "user=102", "Accept": "text/html"}
    assert vary_key(john, "Cookie") != vary_key(jane, "Cookie")
    assert vary_key(john, "Accept") == vary_key(jane, "accept")
    assert vary_key(john, "Accept, Cookie") == vary_key(john, "cookie,accept")
    assert vary_key(john, None) == () and vary_key({}, "Cookie") == (("cookie", None),)
