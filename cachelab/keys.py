"""Cache keys that cannot leak between users, collide, or grow without bound.

A key built by pasting request input into a string, f"search:{query}", has
three problems.  Two different inputs can paste to the same string (a
collision: one user's entry served for another's request).  Inputs that
mean the same thing ("Shoes", " shoes ") make different keys, so an
attacker can miss the cache at will.  And a megabyte of input makes a
megabyte key.  `make_key` normalises each part, encodes the parts so
their boundaries survive, and hashes the result to a fixed length.

Per-user data goes under the user's own prefix, so it cannot be served to
anyone else and `forget_user` can drop all of it at logout.
"""

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
    """Return "namespace[:user:ID]:" + a SHA-256 of the normalised parts and params.

    The parts are JSON-encoded as a list before hashing, so ("a:b", "c") and
    ("a", "b:c") stay apart; params are sorted, so their order does not
    matter.  The key is the same length whatever the input's length.
    """
    prefix = f"{_name('namespace', namespace)}:" if user is None else user_prefix(namespace, user)
    canonical = json.dumps([[normalise(p) for p in parts],
                            sorted((k, normalise(v)) for k, v in params.items())],
                           ensure_ascii=False, separators=(",", ":"), default=str)
    return prefix + hashlib.sha256(canonical.encode()).hexdigest()[:32]


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
