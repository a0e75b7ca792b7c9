import math


def expected_hits(ttl, gap, n_requests):
    """Predict the hits when one key is requested every `gap` seconds, cache-aside, with this ttl."""
    served = math.ceil(ttl / gap)            # requests one entry sees: its miss, then the hits
    full, rest = divmod(n_requests, served)
    return full * (served - 1) + max(rest - 1, 0)
