def stale_schedules(strategy, scenario="reader + writer"):
    """Return the sorted list of schedules after which the cache holds a stale value."""
    return sorted(s for s in interleavings(strategy, scenario) if run(strategy, s, scenario).stale)
