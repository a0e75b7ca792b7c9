"""A TCP proxy on loopback that delays, refuses, swallows or cuts traffic on demand.

Faults are what a shared cache must survive, and a real server stopped by
SIGSTOP does not reproduce them all: the kernel buffers a request to a
stopped server and it runs on resume, so nothing is lost.  A proxy between
the client and the server does: it can refuse new connections, swallow
every byte (a black hole: requests time out, answers never come), cut the
open connections, or add a network round trip to a loopback server::

    with redis_server() as server, TCPProxy(server.port, latency=0.0005) as proxy:
        cache = RedisCache(proxy.url(), prefix="demo:")
        with proxy.faulted("swallow"):       # the next requests time out
            ...
        # traffic flows again here

Modes: "pass" (forward), "refuse" (new and open connections are reset),
"swallow" (bytes in either direction are read and dropped).  `cut()` resets
the open connections once and keeps the mode.  Only loopback is served.
"""

import contextlib
import select
import socket
import struct
import threading
import time

from .._checks import check_choice, check_int, check_seconds

__all__ = ["MODES", "TCPProxy"]

MODES = ("pass", "refuse", "swallow")
_CHUNK = 65536
_POLL = 0.02  # how often idle threads look at the mode and the stop flag


def _check_port(name, value, minimum):
    value = check_int(name, value, minimum)
    if value > 65535:
        raise ValueError(f"{name} must be a TCP port, at most 65535, got {value!r}")
    return value


def _reset(sock):
    """Close with an RST, as a crashed host or a dropped link looks to the peer."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class TCPProxy:
    """Forward 127.0.0.1:`port` to `upstream` (a port on loopback, or (host, port)), with faults."""

    def __init__(self, upstream, *, port=0, latency=0.0):
        if isinstance(upstream, tuple):
            host, upstream_port = upstream
        else:
            host, upstream_port = "127.0.0.1", upstream
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"upstream must be on loopback, got host {host!r}")
        self.upstream = (host, _check_port("upstream port", upstream_port, 1))
        self.latency = check_seconds("latency", latency, finite=True)  # one way, added to every chunk sent
        # State: the listening socket, the open (client, server) pairs, the fault mode, counters.
        self._listener = socket.create_server(("127.0.0.1", _check_port("port", port, 0)))
        self._listener.settimeout(_POLL)
        self.port = self._listener.getsockname()[1]
        self._pairs = set()
        self._lock = threading.Lock()
        self._mode = "pass"
        self._stopping = threading.Event()
        self.connections = 0      # accepted since start
        self.dropped_bytes = 0    # swallowed while in "swallow" mode
        self._thread = threading.Thread(target=self._accept, name=f"proxy:{self.port}", daemon=True)
        self._thread.start()

    def __repr__(self):
        return (f"TCPProxy(127.0.0.1:{self.port} -> {self.upstream[0]}:{self.upstream[1]}, "
                f"mode={self._mode!r}, latency={self.latency}, open={len(self._pairs)})")

    # -- control ---------------------------------------------------------------------------------
    @property
    def mode(self):
        return self._mode

    @mode.setter
    def mode(self, mode):
        check_choice("mode", mode, MODES)
        self._mode = mode
        if mode == "refuse":
            self.cut()

    @contextlib.contextmanager
    def faulted(self, mode):
        """Apply `mode` inside the block, then go back to the mode before it."""
        before, self.mode = self._mode, mode
        try:
            yield self
        finally:
            self.mode = before

    def cut(self):
        """Reset every open connection now (clients see a dropped link); return how many."""
        with self._lock:
            pairs, self._pairs = list(self._pairs), set()
        for pair in pairs:
            for sock in pair:
                _reset(sock)
        return len(pairs)

    def url(self, scheme="redis", db=0):
        """A URL through the proxy: `redis://127.0.0.1:PORT/0` by default."""
        return f"{scheme}://127.0.0.1:{self.port}/{db}" if scheme == "redis" else f"{scheme}://127.0.0.1:{self.port}"

    def close(self):
        """Stop accepting, reset every connection, and wait for the threads."""
        self._stopping.set()
        self.cut()
        self._thread.join(timeout=2)
        with contextlib.suppress(OSError):
            self._listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the pumps -------------------------------------------------------------------------------
    def _accept(self):
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            if self._mode == "refuse":
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                _reset(client)  # upstream down: the client sees what it would see without us
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._pairs.add((client, server))
                self.connections += 1
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst, (client, server)),
                                 daemon=True).start()

    def _pump(self, src, dst, pair):
        try:
            while not self._stopping.is_set() and pair in self._pairs:
                ready, _, _ = select.select([src], [], [], _POLL)
                if not ready:
                    continue
                data = src.recv(_CHUNK)
                if not data:
                    break
                if self._mode == "swallow":
                    self.dropped_bytes += len(data)
                    continue
                if self.latency:
                    time.sleep(self.latency)
                dst.sendall(data)
        except (OSError, ValueError):
            pass  # the other side or cut() closed it
        finally:
            with self._lock:
                mine = pair in self._pairs
                self._pairs.discard(pair)
            if mine:
                for sock in pair:
                    with contextlib.suppress(OSError):
                        sock.close()
