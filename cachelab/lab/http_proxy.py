"""A toy shared cache in front of an origin server: the role a CDN or a reverse proxy plays.

    proxy = CachingProxy(origin.url, clock=clock)
    with serve(proxy) as edge:
        requests.get(edge.url + "/products/1")    # X-Cache: MISS, then HIT

It follows RFC 9111 as a shared cache should, through `cachelab.httpcache`:
it stores only what `storable` allows (no `private`, no `no-store`), keeps
it for `s-maxage` or else `max-age` seconds on its own `clock`, files it
under the request headers the response names in `Vary`, revalidates stale
entries with If-None-Match / If-Modified-Since, drops a URL's entries when
a POST, PUT or DELETE to it succeeds, and serves stale within
RFC 5861's `stale-while-revalidate` (refreshing in the background) and
`stale-if-error` windows.  Every answer says what happened in `X-Cache`.

`ProxyRules` turns off the safeguards one at a time, to show the attacks
they prevent: a proxy that ignores `private` or `Vary` leaks one user's
page to another; one that passes the client's X-Forwarded-Host to the
origin without keying on it can be poisoned; one that caches anything that
looks like a static file falls for web cache deception.
"""

import collections
import dataclasses
import http.client
import threading
import time
from urllib.parse import urlsplit

from ..httpcache import freshness_lifetime, not_modified, stale_windows, storable, vary_key
from .._checks import check_callable, check_seconds

__all__ = ["CachingProxy", "Entry", "ProxyRules"]

# Hop-by-hop headers, and those the serving side sets itself.
_DROP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authenticate",
         "proxy-authorization", "content-length", "date", "server"}
_STATIC = (".css", ".js", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".woff2")


@dataclasses.dataclass(frozen=True)
class ProxyRules:
    """Which of a shared cache's safeguards are on; each off switch is a real misconfiguration."""

    obey_private: bool = True            # off: store `private` pages too (a leak)
    obey_vary: bool = True               # off: one entry per URL, whatever Vary says (a leak)
    pass_forwarded_host: bool = False    # on: forward the client's X-Forwarded-Host unkeyed (poisoning)
    cache_static_paths: float = 0        # > 0: keep *.css, *.js, ... this long whatever the headers (deception)

    def __post_init__(self):
        for name in ("obey_private", "obey_vary", "pass_forwarded_host"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        check_seconds("cache_static_paths", self.cache_static_paths, finite=True)


@dataclasses.dataclass
class Entry:
    """A stored response and when it was stored (or last revalidated), on the proxy's clock."""

    status: int
    headers: list
    body: bytes
    stored_at: float
    lifetime: float
    vary: str | None

    def header(self, name):
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class CachingProxy:
    """A shared HTTP cache as a WSGI app: serve it with `serve(proxy)` in front of `origin`."""

    # State:
    #   origin      (host, port) of the origin server
    #   clock       seconds; freshness is measured on it (a FakeClock makes staleness deterministic)
    #   rules       ProxyRules
    #   _store      (method, path) -> {vary key: Entry}; the Vary header names are in each Entry
    #   _refreshing keys being revalidated in the background (stale-while-revalidate)
    #   _threads    those background revalidations, for drain()
    #   stats       Counter of X-Cache outcomes
    def __init__(self, origin, *, clock=time.monotonic, rules=ProxyRules(), timeout=10):
        if not isinstance(origin, str) or not origin.startswith("http://"):
            raise ValueError(f"origin must be an http:// URL, got {origin!r}")
        parts = urlsplit(origin)
        self.origin = (parts.hostname, parts.port or 80)
        self.clock = check_callable("clock", clock, "time.monotonic or a FakeClock")
        if not isinstance(rules, ProxyRules):
            raise TypeError(f"rules must be a ProxyRules, got {rules!r}")
        self.rules = rules
        self.timeout = check_seconds("timeout", timeout, positive=True, finite=True)
        self._store = {}
        self._lock = threading.Lock()
        self._refreshing = set()
        self._threads = []
        self.stats = collections.Counter()

    # -- WSGI

    def __call__(self, environ, start_response):
        request = _Request.from_environ(environ, self.rules)
        if request.method not in ("GET", "HEAD"):
            status, headers, body, outcome = self._pass(request)
            if 200 <= status < 400:  # a successful POST, PUT or DELETE changed what the URL shows
                self._invalidate(request.path)
        else:
            status, headers, body, outcome = self._get(request)
        self.stats[outcome] += 1
        if status == 200 and outcome != "PASS" and not_modified(request.headers, etag=_find(headers, "ETag")):
            status, body = 304, b""  # the client holds this version already
        headers = [(k, v) for k, v in headers if k.lower() not in _DROP] + [("X-Cache", outcome)]
        start_response(f"{status} {http.client.responses.get(status, '')}", headers)
        return [b""] if request.method == "HEAD" else [body]

    def _get(self, request):
        key = (request.method, request.path)
        now = self.clock()
        entry = self._lookup(key, request.headers)
        if entry is not None:
            age = now - entry.stored_at
            swr, sie = stale_windows(entry.headers)
            if age < entry.lifetime:
                return entry.status, self._aged(entry, age), entry.body, "HIT"
            if age < entry.lifetime + swr:
                self._refresh_in_background(key, request, entry)
                return entry.status, self._aged(entry, age), entry.body, "STALE"
            status, headers, body, _ = self._pass(request, entry)
            if status == 304:
                self._revalidated(entry, headers)
                return entry.status, entry.headers, entry.body, "REVALIDATED"
            if status >= 500 and age < entry.lifetime + sie:
                return entry.status, self._aged(entry, age), entry.body, "STALE-IF-ERROR"
        else:
            status, headers, body, outcome = self._pass(request)
            if outcome == "ERROR":
                return status, headers, body, outcome
        return status, headers, body, "MISS" if self._keep(key, request, status, headers, body) else "PASS"

    # -- the store

    def _lookup(self, key, request_headers):
        with self._lock:
            variants = self._store.get(key)
            if not variants:
                return None
            vary = next(iter(variants.values())).vary  # every variant of a URL varies on the same headers
            return variants.get(self._vary_of(request_headers, vary))

    def _vary_of(self, request_headers, vary):
        return vary_key(request_headers, vary) if self.rules.obey_vary else ()

    def _keep(self, key, request, status, headers, body):
        """Store the response if a shared cache may (or if a static-path rule says so); True if stored."""
        lifetime = freshness_lifetime(headers)
        ok, _ = storable(request.headers, headers, status=status, shared=self.rules.obey_private)
        vary = _find(headers, "Vary")
        if self.rules.cache_static_paths and status == 200 and request.path.split("?")[0].endswith(_STATIC):
            # "It looks like a file, so it is the same for everyone": headers and Vary ignored.
            ok, lifetime, vary = True, max(lifetime, self.rules.cache_static_paths), None
        if not ok:
            return False
        entry = Entry(status, headers, body, self.clock(), lifetime, vary)
        with self._lock:
            variants = self._store.setdefault(key, {})
            if variants and next(iter(variants.values())).vary != vary:
                variants.clear()  # the response now varies on other headers: old variants no longer match
            variants[self._vary_of(request.headers, vary)] = entry
        return True

    def _revalidated(self, entry, headers):
        """A 304 from the origin: the stored body is current; take its new headers and restart its age."""
        fresh = {k.lower() for k, _ in headers if k.lower() not in _DROP}
        entry.headers = [(k, v) for k, v in entry.headers if k.lower() not in fresh] + [
            (k, v) for k, v in headers if k.lower() not in _DROP]
        entry.lifetime = freshness_lifetime(entry.headers)
        entry.stored_at = self.clock()

    def _refresh_in_background(self, key, request, entry):
        with self._lock:
            if key in self._refreshing:  # one revalidation per entry at a time
                return
            self._refreshing.add(key)

        def refresh():
            try:
                status, headers, body = self._forward(request, entry)
                if status == 304:
                    self._revalidated(entry, headers)
                else:
                    self._keep(key, request, status, headers, body)
            except OSError:
                pass  # keep serving what we have; the next stale request tries again
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        thread = threading.Thread(target=refresh, name=f"revalidate {key[1]}", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def drain(self):
        """Wait for the background revalidations to finish (so a count after it is final)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join()

    def _aged(self, entry, age):
        return [*entry.headers, ("Age", str(int(age)))]

    def _invalidate(self, path):
        """Drop what is stored for `path` (RFC 9111 section 4.4: after an unsafe method succeeds)."""
        with self._lock:
            for method in ("GET", "HEAD"):
                self._store.pop((method, path), None)

    def clear(self):
        """Drop every stored response (a purge)."""
        with self._lock:
            self._store.clear()

    def __len__(self):
        with self._lock:
            return sum(len(v) for v in self._store.values())

    def __repr__(self):
        return f"CachingProxy(origin=http://{self.origin[0]}:{self.origin[1]}, {len(self)} stored, {dict(self.stats)})"

    # -- the origin

    def _pass(self, request, entry=None):
        """_forward(), with an unreachable origin answered as 502 Bad Gateway; the outcome is PASS or ERROR."""
        try:
            return (*self._forward(request, entry), "PASS")
        except OSError:
            return 502, [("Content-Type", "text/plain")], b"bad gateway: the origin did not answer\n", "ERROR"

    def _forward(self, request, entry=None):
        """Send the request to the origin (conditional on `entry`'s validators); return status, headers, body."""
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in _DROP and k.lower() not in ("if-none-match", "if-modified-since")}
        if entry is not None:
            for validator, conditional in (("ETag", "If-None-Match"), ("Last-Modified", "If-Modified-Since")):
                if entry.header(validator):
                    headers[conditional] = entry.header(validator)
        connection = http.client.HTTPConnection(*self.origin, timeout=self.timeout)
        try:
            connection.request(request.method, request.path, body=request.body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


@dataclasses.dataclass
class _Request:
    method: str
    path: str
    headers: dict
    body: bytes

    @classmethod
    def from_environ(cls, environ, rules):
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        host = headers.get("Host", "")
        if not rules.pass_forwarded_host or "X-Forwarded-Host" not in headers:
            headers["X-Forwarded-Host"] = host  # what the client asked this proxy for, not what it claims
        path = environ.get("PATH_INFO", "/") + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
        return cls(environ["REQUEST_METHOD"], path, headers, body)


def _find(headers, name):
    return next((v for k, v in headers if k.lower() == name.lower()), None)
