"""Waiting for something a cache reports, instead of sleeping and hoping."""

import time


def wait_until(condition, what="the condition", limit=30.0):
    """Return once condition() holds; the limit only stops a broken build from hanging."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.002)
