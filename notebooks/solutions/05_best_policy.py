def best_policy(table, size):
    """Return the policy with the highest hit ratio at `size`, which is one of table.sizes."""
    i = table.sizes.index(size)
    return max(table.rates, key=lambda policy: table.rates[policy][i])
