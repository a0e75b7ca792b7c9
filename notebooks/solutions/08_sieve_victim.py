def sieve_victim(queue, visited, hand):
    """Return the key SIEVE evicts from `queue` (oldest first), starting at index `hand`."""
    visited = set(visited)  # a copy: the caller's marks stay as they were
    while True:
        if hand >= len(queue):  # past the newest key: wrap to the oldest
            hand = 0
        key = queue[hand]
        if key not in visited:
            return key
        visited.discard(key)  # spared once; the mark is spent
        hand += 1
