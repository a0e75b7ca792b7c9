import os
import pathlib
import sys
import tempfile

# The contract mixin lives beside the tests.
sys.path.insert(0, str(pathlib.Path(__file__).parent))

# libcachesim writes a hub cache under ~/.cache on import; keep it out of HOME.
os.environ.setdefault("LCS_HUB_CACHE", tempfile.mkdtemp(prefix="cachelab-lcs-"))

# Real traces come from the shared data folder beside the repo, never from the network
# (the Makefile's test target exports the same for the notebooks).
os.environ.setdefault("CACHELAB_DATA", str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"))

# CI explores the same examples on every run; locally Hypothesis keeps searching.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


# -- Redis: one embedded Valkey server for the session (or CACHELAB_REDIS_URL's), a fresh
# key prefix for every cache a test makes, and each test's keys deleted after it.
# A test that stops or restarts its server starts its own: redis_server(embedded=True).
import uuid  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def redis_url():
    from cachelab.redis import redis_server

    with redis_server() as server:
        yield server.url


@pytest.fixture(scope="module")
def server():
    """A server of this test module's own, which its tests may stop, pause, cut off or fill."""
    from cachelab.redis import redis_server

    with redis_server(embedded=True) as running:
        yield running


@pytest.fixture
def own_server():
    """A server of this test's own, which it may stop, kill or pause."""
    from cachelab.redis import redis_server

    with redis_server(embedded=True) as running:
        yield running


@pytest.fixture
def make_redis_cache(redis_url):
    """make_redis_cache(**options) -> a RedisCache under a prefix no other cache uses."""
    from cachelab.redis import RedisCache

    made = []

    def make(**options):
        options.setdefault("prefix", f"test:{uuid.uuid4().hex[:12]}:")
        options.setdefault("timeout", 1.0)  # a busy CI machine must not look like an outage
        made.append(RedisCache(redis_url, **options))
        return made[-1]

    yield make
    for cache in made:
        cache.clear()
