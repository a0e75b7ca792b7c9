import collections


def lfu_victim(uses):
    """Return the key LFU evicts next, given every use of the cached keys in order."""
    counts = collections.Counter(uses)
    last_use = {key: i for i, key in enumerate(uses)}   # when each key reached its count
    return min(counts, key=lambda key: (counts[key], last_use[key]))
