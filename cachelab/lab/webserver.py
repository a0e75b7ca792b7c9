"""A real HTTP server on a loopback port for any WSGI app, and the log of what reached it.

    with serve(app) as server:          # werkzeug's threaded server, port picked free
        requests.get(server.url + "/products/1")
    server.log.statuses()               # Counter({200: 1})

The server runs in a background thread and stops when the `with` block
ends, so a notebook or a test leaves nothing running.  It logs nothing to
the console; `RequestLog` keeps what matters for caching instead: which
requests reached the server, with which status (200, 304, ...).
"""

import collections
import contextlib
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from .._checks import check_callable, check_int

__all__ = ["LoggedRequest", "RequestLog", "Server", "serve"]

LoggedRequest = collections.namedtuple("LoggedRequest", "method path status conditional")
LoggedRequest.__doc__ = "One request that reached the server: method, path, status, and whether it was conditional."


class RequestLog:
    """WSGI middleware that records every request reaching `app`, then passes it on.

    `conditional` is True when the request carried If-None-Match or
    If-Modified-Since: a cache revalidating what it holds.
    """

    # State:
    #   app       the wrapped WSGI application
    #   _entries  LoggedRequest records, oldest first
    #   _lock     the server is threaded: requests are logged from several threads
    def __init__(self, app):
        self.app = check_callable("app", app, "a Flask app or any WSGI callable")
        self._entries = []
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        def logged_start_response(status, headers, exc_info=None):
            conditional = "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ
            path = environ.get("PATH_INFO", "") + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
            with self._lock:
                self._entries.append(LoggedRequest(environ["REQUEST_METHOD"], path, int(status[:3]), conditional))
            return start_response(status, headers, exc_info)

        return self.app(environ, logged_start_response)

    @property
    def entries(self):
        """A copy of the requests logged so far, oldest first."""
        with self._lock:
            return list(self._entries)

    def statuses(self, path=None):
        """Counter of statuses, for every request or for one path."""
        return collections.Counter(e.status for e in self.entries if path is None or e.path == path)

    def clear(self):
        """Forget every logged request."""
        with self._lock:
            self._entries.clear()

    def __len__(self):
        with self._lock:
            return len(self._entries)

    def __repr__(self):
        return f"RequestLog({len(self)} requests, {dict(self.statuses())})"


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without its per-request console line (the RequestLog keeps the record)."""

    def log(self, type, message, *args):
        pass


class Server:
    """A running server: its `url`, `port` and `log` (a RequestLog)."""

    def __init__(self, httpd, log):
        self._httpd = httpd
        self.log = log
        self.port = httpd.server_port
        self.url = f"http://127.0.0.1:{self.port}"

    def __repr__(self):
        return f"Server({self.url!r}, {self.log!r})"


@contextlib.contextmanager
def serve(app, *, port=0):
    """Serve the WSGI `app` on 127.0.0.1 (a free port by default) until the block ends; yield a Server."""
    check_callable("app", app, "a Flask app or any WSGI callable")
    if check_int("port", port) > 65535:
        raise ValueError(f"port must be 0 (any free port) or a port number up to 65535, got {port!r}")
    log = RequestLog(app)
    httpd = make_server("127.0.0.1", port, log, threaded=True, request_handler=_QuietHandler)
    httpd.daemon_threads = True  # a browser's idle keep-alive connection must not hold up the exit
    # A short poll, so that leaving the block (shutdown) takes milliseconds, not half a second.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01},
                              name=f"serve:{httpd.server_port}", daemon=True)
    thread.start()
    try:
        yield Server(httpd, log)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
