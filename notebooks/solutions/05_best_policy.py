def best_policy(table, size):
    """Return the policy with the highest hit ratio at `size`; `table` maps each policy to its HitCurve."""
    def ratio(policy):
        curve = table[policy]
        return curve.hit_ratios[list(curve.sizes).index(size)]

    return max(table, key=ratio)
