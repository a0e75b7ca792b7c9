def user_key(user_id, field):
    """Return the Redis key for one field of a user, so that all of one user's keys share a slot."""
    return f"{{user:{user_id}}}:{field}"
