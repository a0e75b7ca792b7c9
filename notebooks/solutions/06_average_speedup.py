def average_speedup(results):
    """Return the mean of the finite speed-ups in results (0.0 if there are none)."""
    finite = [r["speedup"] for r in results if r["speedup"] != float("inf")]
    return sum(finite) / len(finite) if finite else 0.0
