"""What must not go into a shared cache, and what a shared cache must not run.

* A pickle is a program: `pickle.loads` calls whatever callable the bytes
  name.  `planted_payload()` makes one whose only effect is to set a flag,
  so a notebook and a test can show that a pickle codec runs it and the
  JSON codec does not.
* Secrets and personal data: `FieldPolicy` says, field by field, what may
  be cached; fields it does not know are left out (deny by default).
"""

import pickle

__all__ = [
    "USER_POLICY",
    "FieldPolicy",
    "payload_ran",
    "planted_payload",
    "reset_payload",
]

_RAN = {"ran": False}  # set by the planted payload, and by nothing else


def _mark_payload_ran():
    """The payload's whole effect; a real attacker would name os.system instead."""
    _RAN["ran"] = True
    return {"name": "innocent-looking value"}


class _Payload:
    def __reduce__(self):
        return (_mark_payload_ran, ())


def planted_payload():
    """Return pickle bytes that, when unpickled, call a function of the writer's choosing."""
    return pickle.dumps(_Payload())


def payload_ran():
    """Return True if a planted payload has been unpickled since the last reset."""
    return _RAN["ran"]


def reset_payload():
    """Lower the flag."""
    _RAN["ran"] = False


class FieldPolicy:
    """Which fields of a record may be cached, and why; unknown fields are never cached."""

    def __init__(self, cache=(), never=()):
        # cache and never: {field: reason}
        self.cache = dict(cache)
        self.never = dict(never)
        both = self.cache.keys() & self.never.keys()
        if both:
            raise ValueError(f"fields both cached and never cached: {sorted(both)}")

    def split(self, record):
        """Return (the cacheable part of record, the names of the fields left out)."""
        keep = {k: v for k, v in record.items() if k in self.cache}
        return keep, sorted(k for k in record if k not in self.cache)

    def rows(self):
        """Return (field, 'cache' or 'never', reason) rows, for a table."""
        return ([(f, "cache", why) for f, why in self.cache.items()]
                + [(f, "never", why) for f, why in self.never.items()])


USER_POLICY = FieldPolicy(
    cache={
        "id": "the key itself; not secret",
        "name": "shown on every page; changes rarely",
        "tier": "drives prices; invalidate on change",
        "email": "personal data: cache only under the user's own key, dropped at logout",
    },
    never={
        "password_hash": "a credential; only the login check needs it, read from the database",
        "session_token": "a bearer secret; anyone who reads the cache could act as the user",
        "card_number": "payment data (PCI DSS): never stored outside the payment system",
    },
)
