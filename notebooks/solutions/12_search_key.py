def search_key(user_id, query):
    """Return the cache key for one user's search results."""
    return make_key("search", query, user=user_id)
