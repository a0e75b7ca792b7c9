"""Seeded access patterns: arrays of integer keys, one per request.

Every generator takes `seed=` (or an explicit numpy `rng=`), so a test, a
notebook and a slider all see the same trace.
"""

import numpy as np

__all__ = ["loop", "scan", "uniform", "zipf"]


def _rng(seed, rng):
    if rng is not None and seed is not None:
        raise ValueError("pass either seed or rng, not both")
    return rng if rng is not None else np.random.default_rng(seed)


def _check_count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def uniform(n_requests, n_keys, *, seed=None, rng=None):
    """Every key equally likely."""
    n_requests = _check_count("n_requests", n_requests, 0)
    n_keys = _check_count("n_keys", n_keys)
    return _rng(seed, rng).integers(0, n_keys, size=n_requests)


def zipf(n_requests, n_keys, alpha=1.0, *, seed=None, rng=None):
    """Key k (0 is the most popular) drawn with probability proportional to 1/(k+1)**alpha.

    Unlike numpy's `zipf`, the key space is bounded and any alpha >= 0 works,
    including the common web-cache range alpha <= 1.
    """
    n_requests = _check_count("n_requests", n_requests, 0)
    n_keys = _check_count("n_keys", n_keys)
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    weights = np.arange(1, n_keys + 1, dtype=np.float64) ** -float(alpha)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    draws = _rng(seed, rng).random(n_requests)
    # side="right" keeps a draw of exactly cdf[k] out of key k.
    return np.minimum(np.searchsorted(cdf, draws, side="right"), n_keys - 1)


def scan(n_requests, n_keys):
    """0, 1, 2, ... n_keys-1, then around again: every key once per pass."""
    n_requests = _check_count("n_requests", n_requests, 0)
    n_keys = _check_count("n_keys", n_keys)
    return np.arange(n_requests) % n_keys


def loop(n_requests, cache_size, extra=1):
    """A scan over `cache_size + extra` keys: the pathological case for LRU."""
    cache_size = _check_count("cache_size", cache_size)
    extra = _check_count("extra", extra)
    return scan(n_requests, cache_size + extra)
