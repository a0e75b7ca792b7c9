import collections


def lru_evictions(sequence, size):
    """Return the keys an LRU cache of `size` evicts, in order, for a list of keys."""
    order = collections.OrderedDict()        # least recently used first
    evicted = []
    for key in sequence:
        if key in order:
            order.move_to_end(key)
            continue
        order[key] = None
        if len(order) > size:
            evicted.append(order.popitem(last=False)[0])
    return evicted
