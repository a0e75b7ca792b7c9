"""Cache keys that cannot leak between users, collide, or grow without bound.

A key built by pasting request input into a string, f"search:{query}", has
three problems.  Two different inputs can paste to the same string (a
collision: one user's entry served for another's request).  Inputs that
mean the same thing ("Shoes", " shoes ") make different keys, so an
attacker can miss the cache at will.  And a megabyte of input makes a
megabyte key.  `make_key` encodes the parts with their types, so their
boundaries survive and two different inputs never share a key, and
hashes the result to a fixed length.  Normalising is the caller's call,
part by part: `make_key("search", normalise(query))` treats "Red Shoes"
and " red shoes" as one search, where a URL path or a file name must
keep its case.

Per-user data goes under the user's own prefix, so it cannot be served to
anyone else and `forget_user` can drop all of it at logout.
"""

import datetime
import decimal
import hashlib
import json
import re
import unicodedata

__all__ = ["forget_user", "make_key", "normalise", "user_prefix"]

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # namespaces and user ids: no ':' or '*'


def _name(what, value):
    text = str(value)
    if isinstance(value, bool) or not _NAME.fullmatch(text):
        raise ValueError(f"{what} must be 1-64 letters, digits, '_', '.' or '-', got {value!r}")
    return text


def normalise(text):
    """Return text as the cache should see it: NFKC, case-folded, single spaces, trimmed."""
    if not isinstance(text, str):
        return text
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def user_prefix(namespace, user):
    """Return the prefix every key of this user's data in this namespace starts with."""
    return f"{_name('namespace', namespace)}:user:{_name('user', user)}:"


def make_key(namespace, *parts, user=None, **params):
    """Return "namespace[:user:ID]:" + a SHA-256 of the parts and params, encoded with their types.

    Two calls get one key only when their parts and params are equal and of
    the same types: ("a:b", "c") and ("a", "b:c"), b"a" and "b'a'",
    Decimal("1.0") and "1.0", 1 and "1" all stay apart.  Nothing is
    normalised unless you ask, part by part, with `normalise(part)`.
    Params are sorted, so their order does not matter.  Parts may be str,
    int, float, bool, None, bytes, Decimal, date/datetime/time, and lists,
    tuples and dicts of these; anything else is refused with a TypeError.
    The key is the same length whatever the input's length.
    """
    prefix = f"{_name('namespace', namespace)}:" if user is None else user_prefix(namespace, user)
    encoded = [[_typed(part, f"part {i}") for i, part in enumerate(parts)],
               sorted([name, _typed(value, f"param {name}")] for name, value in params.items())]
    canonical = json.dumps(encoded, ensure_ascii=False, separators=(",", ":"))
    return prefix + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# Each type's tag and its exact text; bool before int (True is an int), datetime before date.
_SCALARS = (
    (bool, "b", int), (int, "i", str), (float, "f", float.hex), (str, "s", str), (bytes, "y", bytes.hex),
    (decimal.Decimal, "d", str), (datetime.datetime, "dt", datetime.datetime.isoformat),
    (datetime.date, "da", datetime.date.isoformat), (datetime.time, "t", datetime.time.isoformat),
)


def _typed(value, where):
    """Return value as JSON-able [tag, text] lists that differ whenever type or value differ."""
    if value is None:
        return ["n"]
    for kind, tag, text in _SCALARS:
        if isinstance(value, kind):
            return [tag, text(value)]
    if isinstance(value, (list, tuple)):
        return ["l" if isinstance(value, list) else "u", [_typed(item, where) for item in value]]
    if isinstance(value, dict):
        return ["m", sorted([_typed(k, where), _typed(v, where)] for k, v in value.items())]
    raise TypeError(f"make_key can't encode {where}, a {type(value).__name__} ({value!r}): pass a str, "
                    "int, float, bool, None, bytes, Decimal, date/datetime, or a list, tuple or dict "
                    "of these; for another type pass the fields that identify it, e.g. str(value)")


def forget_user(cache, namespace, user):
    """Drop every cached entry of one user (at logout); return how many went.

    `cache` is a mapping-like cache (iterated for the prefix) or a redis-py
    client (SCAN MATCH prefix*, then UNLINK, never KEYS or FLUSHALL).
    """
    prefix = user_prefix(namespace, user)
    if hasattr(cache, "scan_iter"):
        names = list(cache.scan_iter(match=prefix + "*", count=500))
        return cache.unlink(*names) if names else 0
    mine = [key for key in list(cache) if isinstance(key, str) and key.startswith(prefix)]
    for key in mine:
        cache.pop(key, None)
    return len(mine)
