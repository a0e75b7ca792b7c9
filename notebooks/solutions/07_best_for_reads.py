def best_for_reads(results):
    """Return the pattern name with the lowest read_ms among results with no stale reads."""
    fresh = [r for r in results if r.stale_reads == 0]
    return min(fresh, key=lambda r: (r.read_ms, r.lost_writes)).pattern if fresh else None
