"""HTTP caching, the server's half: Cache-Control headers, validators and conditional GETs.

The pieces a web application needs to let browsers, proxies and CDNs cache
its pages (RFC 9111), written out small enough to read, with the standard
library only:

    cache_control(max_age=60, public=True)          -> "public, max-age=60"
    etag_for(body)                                  -> '"3f2a...c1"'
    not_modified(request_headers, etag=..., last_modified=...)   -> True: answer 304
    parse_cache_control("private, max-age=0")       -> {"private": True, "max-age": 0}

and the shared cache's half: what a shared cache may store (`storable`),
for how long (`freshness_lifetime`), how long it may serve it stale
(RFC 5861's `stale-while-revalidate` and `stale-if-error`), and the key it
must file it under (`vary_key`).
"""

import email.utils
import hashlib
import math
from numbers import Real

from ._checks import check_seconds

__all__ = [
    "cache_control", "etag_for", "etag_matches", "freshness_lifetime", "http_date", "not_modified",
    "parse_cache_control", "parse_http_date", "stale_windows", "storable", "vary_key",
]

# Directives that take a number of seconds (RFC 9111 section 5.2, RFC 5861).
_SECONDS = ("max-age", "s-maxage", "stale-while-revalidate", "stale-if-error")
_FLAGS = ("public", "private", "no-cache", "no-store", "must-revalidate", "proxy-revalidate", "immutable")


def cache_control(*, max_age=None, s_maxage=None, public=False, private=False, no_cache=False,
                  no_store=False, must_revalidate=False, immutable=False, stale_while_revalidate=None,
                  stale_if_error=None):
    """Return a Cache-Control header value from keyword directives, refusing contradictions.

    `public` and `private` exclude each other (`private` forbids what `public`
    allows), and `no-store` with a lifetime is a mistake: nothing is stored
    to be fresh.  `s-maxage` and `public` make sense only for shared caches,
    so they are refused with `private` too.
    """
    seconds = {"max-age": max_age, "s-maxage": s_maxage,
               "stale-while-revalidate": stale_while_revalidate, "stale-if-error": stale_if_error}
    for name, value in seconds.items():
        if value is not None:
            if check_seconds(name.replace("-", "_"), value, finite=True) != int(value):
                raise ValueError(f"{name.replace('-', '_')} must be a whole number of seconds, got {value!r}")
    flags = {"public": public, "private": private, "no-cache": no_cache, "no-store": no_store,
             "must-revalidate": must_revalidate, "immutable": immutable}
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"{name.replace('-', '_')} must be True or False, got {value!r}")
    if private and (public or s_maxage is not None):
        raise ValueError("private excludes public and s_maxage: a private response is for the browser only")
    if no_store and any(v is not None for v in seconds.values()):
        raise ValueError("no_store excludes max_age, s_maxage and the stale windows: nothing is stored")
    parts = [name for name in ("public", "private", "no-cache", "no-store") if flags[name]]
    parts += [f"{name}={int(value)}" for name, value in seconds.items() if value is not None]
    parts += [name for name in ("must-revalidate", "immutable") if flags[name]]
    if not parts:
        raise ValueError("give at least one directive, e.g. cache_control(max_age=60)")
    return ", ".join(parts)


def parse_cache_control(value):
    """Return {directive: seconds or True} from a Cache-Control header value (None or "" gives {}).

    Names are lower-cased; a number that does not parse makes the directive
    0 seconds, the safe reading (RFC 9111 section 4.2.1: treat it as stale).
    """
    if value is None:
        return {}
    if not isinstance(value, str):
        raise TypeError(f"value must be a Cache-Control header string or None, got {value!r}")
    directives = {}
    for part in value.split(","):
        name, _, argument = part.strip().partition("=")
        name = name.strip().lower()
        if not name:
            continue
        argument = argument.strip().strip('"')
        if name in _SECONDS:
            directives[name] = int(argument) if argument.isdigit() else 0
        else:
            directives[name] = argument or True
    return directives


def etag_for(body, *, weak=False):
    """Return a strong (or weak) entity tag for a response body: a quoted hash of its bytes."""
    if isinstance(body, str):
        body = body.encode()
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError(f"body must be bytes or str, got {type(body).__name__}")
    if not isinstance(weak, bool):
        raise TypeError(f"weak must be True or False, got {weak!r}")
    tag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return "W/" + tag if weak else tag


def etag_matches(if_none_match, etag):
    """True if an If-None-Match header names `etag`, by the weak comparison RFC 9110 asks for.

    The header is `*` or a comma-separated list of tags; `W/"x"` and `"x"`
    match each other here, because If-None-Match compares weakly.
    """
    if if_none_match is None or etag is None:
        return False
    if not isinstance(if_none_match, str) or not isinstance(etag, str):
        raise TypeError(f"if_none_match and etag must be strings, got {if_none_match!r} and {etag!r}")
    if if_none_match.strip() == "*":
        return True
    return etag.removeprefix("W/") in {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}


def http_date(timestamp):
    """Return a Unix time as an HTTP date (IMF-fixdate, always GMT), e.g. for Last-Modified."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, Real) or not math.isfinite(timestamp):
        raise TypeError(f"timestamp must be a finite number of seconds since 1970, got {timestamp!r}")
    return email.utils.formatdate(timestamp, usegmt=True)


def parse_http_date(value):
    """Return an HTTP date as Unix seconds, or None if it does not parse (a bad date is no date)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.timestamp() if parsed.tzinfo else None


def not_modified(request_headers, *, etag=None, last_modified=None):
    """True if a GET's conditional headers show the client already holds this version: answer 304.

    If-None-Match wins over If-Modified-Since when both are present (RFC
    9110 section 13.2.2); `last_modified` is Unix seconds, compared to the
    second, as HTTP dates carry no fractions.
    """
    if_none_match = _header(request_headers, "If-None-Match")
    if if_none_match is not None:
        return etag_matches(if_none_match, etag)
    since = parse_http_date(_header(request_headers, "If-Modified-Since"))
    return since is not None and last_modified is not None and int(last_modified) <= since


def storable(request_headers, response_headers, *, status=200, shared=True):
    """Return (may a cache store this response?, why) by RFC 9111 section 3.

    A shared cache (a proxy, a CDN) also refuses `private`, and a request
    with Authorization unless the response says `public` or `s-maxage`.
    `Vary: *` can never be matched, so it is not stored either.
    """
    cc = parse_cache_control(_header(response_headers, "Cache-Control"))
    if status not in (200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501):
        return False, f"status {status} is not cacheable by default"
    if "no-store" in cc:
        return False, "no-store"
    if shared and "private" in cc:
        return False, "private: for the browser only"
    if shared and _header(request_headers, "Authorization") is not None and not (
            "public" in cc or "s-maxage" in cc):
        return False, "the request carried Authorization"
    if (_header(response_headers, "Vary") or "").strip() == "*":
        return False, "Vary: * matches no later request"
    if not (cc.keys() & {"max-age", "s-maxage", "public", "no-cache"}) and not (
            _header(response_headers, "ETag") or _header(response_headers, "Last-Modified")):
        return False, "no freshness and no validator"
    return True, "may be stored"


def freshness_lifetime(response_headers, *, shared=True):
    """Seconds a stored response stays fresh: s-maxage (shared caches only), else max-age, else 0.

    `no-cache` makes it 0: stored, but checked with the origin before every
    use.  There is no heuristic freshness here (RFC 9111 allows one when a
    response has Last-Modified but no lifetime; leaving it out is the
    cautious choice).
    """
    cc = parse_cache_control(_header(response_headers, "Cache-Control"))
    if "no-cache" in cc:
        return 0
    if shared and "s-maxage" in cc:
        return cc["s-maxage"]
    return cc.get("max-age", 0)


def stale_windows(response_headers):
    """Return (stale-while-revalidate, stale-if-error) seconds from RFC 5861; 0 for an absent one.

    must-revalidate (and proxy-revalidate) forbid serving stale, so they make both 0.
    """
    cc = parse_cache_control(_header(response_headers, "Cache-Control"))
    if "must-revalidate" in cc or "proxy-revalidate" in cc or "no-cache" in cc:
        return 0, 0
    return cc.get("stale-while-revalidate", 0), cc.get("stale-if-error", 0)


def vary_key(request_headers, vary):
    """The part of a cache key a Vary header adds: each named request header's value, in order.

    Two requests may share a stored response only if they agree on every
    header the response varies on (RFC 9111 section 4.1).  Names are
    case-insensitive, so the key lowercases them; a missing header is None.
    """
    if vary is None:
        return ()
    if not isinstance(vary, str):
        raise TypeError(f"vary must be a Vary header string or None, got {vary!r}")
    names = sorted({name.strip().lower() for name in vary.split(",") if name.strip()})
    return tuple((name, _header(request_headers, name)) for name in names)


def _header(headers, name):
    """A header's value whatever its case, from a mapping (a dict, werkzeug's or requests' headers)
    or a list of (name, value) pairs, as WSGI and http.client give them."""
    if headers is None:
        return None
    if isinstance(headers, (list, tuple)):
        items = headers
    else:
        try:
            items = headers.items()
        except AttributeError:
            raise TypeError("headers must be a mapping of header names to values or a list of "
                            f"(name, value) pairs, got {headers!r}") from None
    lower = name.lower()
    return next((v for k, v in items if k.lower() == lower), None)
