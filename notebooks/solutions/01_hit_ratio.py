def hit_ratio(info):
    """Return the fraction of lookups that were hits (0.0 when there were none)."""
    lookups = info.hits + info.misses
    return info.hits / lookups if lookups else 0.0
