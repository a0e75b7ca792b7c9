"""Argument checks shared by the modules: each error names the parameter and what it accepts."""

import math
from datetime import timedelta
from numbers import Integral, Real


def check_int(name, value, minimum=0):
    """Return value as an int, or raise TypeError (not an integer) or ValueError (below minimum)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_maxsize(name, value):
    """Return a cache bound: an integer >= 0, or math.inf for no bound (as cachetools allows)."""
    if isinstance(value, float) and math.isinf(value):
        if value < 0:
            raise ValueError(f"{name} must be an integer >= 0 or math.inf, got {value!r}")
        return value
    return check_int(name, value)


def check_seconds(name, value, *, positive=False, finite=False, unit="seconds"):
    """Return a duration in seconds (or `unit`), >= 0 (or > 0 if positive); NaN is refused, and inf if finite."""
    # The common case first: a clock ticks on every simulated query, so this is a hot path.
    if type(value) is float or type(value) is int:
        if (value > 0 if positive else value >= 0) and not (finite and value == math.inf):
            return value
    bound = ("a finite number" if finite else "a number") + f" of {unit} " + ("> 0" if positive else ">= 0")
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be {bound}, got {value!r}")
    if not (value > 0 if positive else value >= 0) or (finite and math.isinf(value)):
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return value


def check_ttl(name, value):
    """Return a time-to-live: seconds > 0 (math.inf allowed), or a timedelta > 0 for a datetime timer."""
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise ValueError(f"{name} must be > 0, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number of seconds > 0 (or a timedelta), got {value!r}")
    return check_seconds(name, value, positive=True)


def check_fraction(name, value):
    """Return a number between 0 and 1 inclusive, or raise ValueError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    return value


def check_choice(name, value, choices):
    """Return value if it is one of `choices` (a sequence, or a mapping's keys), else raise ValueError."""
    try:
        known = value in choices
    except TypeError:  # an unhashable value asked of a mapping
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def check_callable(name, value, example=""):
    """Return value if it can be called; `example` suggests what to pass."""
    if not callable(value):
        hint = f", e.g. {example}" if example else ""
        raise TypeError(f"{name} must be callable{hint}, got {value!r}")
    return value
