"""Reuse in a trace: where each key is requested again.

OPT (Belady's clairvoyant policy) evicts the key whose next request lies
furthest ahead, and a hit-ratio curve counts how far apart two requests
for one key are.  Both start from the same question, answered here once
with numpy sorts instead of a Python loop over the trace.
"""

import numpy as np

__all__ = ["as_keys", "next_uses", "reuses"]


def as_keys(trace):
    """Return the trace as a one-dimensional numpy array of integer ids.

    Two requests get one id exactly when a cache (a dict) would see one key:
    1 and "1" stay apart, None is a key like any other.
    """
    if isinstance(trace, (str, bytes)) or not hasattr(trace, "__len__") and not hasattr(trace, "__iter__"):
        raise TypeError(f"trace must be a sequence of keys, such as a list or a numpy array, got {trace!r}")
    keys = trace if isinstance(trace, np.ndarray) else None
    if keys is None:
        trace = list(trace)
        kinds = set(map(type, trace))
        if kinds <= {int} or kinds == {str}:  # numpy holds these exactly, one type throughout
            keys = np.asarray(trace)
    if keys is not None and keys.ndim != 1:
        raise ValueError(f"trace must be a one-dimensional sequence of keys, got shape {keys.shape}")
    if keys is not None and keys.dtype.kind in "iu":
        return keys
    if keys is not None and keys.dtype.kind in "US":
        return np.unique(keys, return_inverse=True)[1].reshape(-1)
    # Mixed or other keys: number them as a dict would see them.
    ids = {}
    try:
        return np.fromiter((ids.setdefault(key, len(ids)) for key in trace), dtype=np.int64,
                           count=len(trace))
    except TypeError as error:
        raise TypeError(f"trace keys must be hashable, as a cache's are: {error}") from None


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
