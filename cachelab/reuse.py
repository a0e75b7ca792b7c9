"""Reuse in a trace: where each key is requested again.

OPT (Belady's clairvoyant policy) evicts the key whose next request lies
furthest ahead, and a hit-ratio curve counts how far apart two requests
for one key are.  Both start from the same question, answered here once
with numpy sorts instead of a Python loop over the trace.
"""

import numpy as np

__all__ = ["as_keys", "next_uses", "reuses"]


def as_keys(trace):
    """Return the trace as a one-dimensional numpy array of integer ids."""
    keys = np.asarray(trace)
    if keys.ndim != 1:
        raise ValueError(f"trace must be a one-dimensional sequence of keys, got shape {keys.shape}")
    if keys.dtype.kind not in "iu":
        _, keys = np.unique(keys, return_inverse=True)
    return keys


def reuses(keys):
    """Return (earlier, later): index pairs of consecutive requests for the same key."""
    keys = np.asarray(keys)
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    low, span = int(keys.min()), int(keys.max()) - int(keys.min()) + 1
    if span * n < 2**62:
        # Sorting key * n + index is several times faster than a stable argsort.
        combined = np.sort((keys.astype(np.int64) - low) * n + np.arange(n))
        order, sorted_keys = combined % n, combined // n
    else:
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
    same = sorted_keys[1:] == sorted_keys[:-1]
    return order[:-1][same], order[1:][same]


def next_uses(keys):
    """Return, for each request, the index of the next request for the same key (or len)."""
    earlier, later = reuses(keys)
    nxt = np.full(len(keys), len(keys), dtype=np.int64)
    nxt[earlier] = later
    return nxt
