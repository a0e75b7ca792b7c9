"""Argument checks shared by the modules: each error names the parameter and what it accepts."""

from numbers import Integral, Real


def check_int(name, value, minimum=0):
    """Return value as an int, or raise TypeError (not an integer) or ValueError (below minimum)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_seconds(name, value, *, positive=False):
    """Return a duration in seconds, >= 0 (or > 0 if positive); NaN is refused too."""
    bound = "> 0" if positive else ">= 0"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number of seconds {bound}, got {value!r}")
    if not (value > 0 if positive else value >= 0):
        raise ValueError(f"{name} must be a number of seconds {bound}, got {value!r}")
    return value


def check_callable(name, value, example=""):
    """Return value if it can be called; `example` suggests what to pass."""
    if not callable(value):
        hint = f", e.g. {example}" if example else ""
        raise TypeError(f"{name} must be callable{hint}, got {value!r}")
    return value
