import math


def recompute_early(now, delta, beta, expiry, u):
    """Return True if XFetch recomputes now, given a uniform draw u in (0, 1]."""
    return now - delta * beta * math.log(u) >= expiry
