"""Notebook 16's apparatus: Django configured in code, the shop as a Django app, and async helpers.

    configure_django()                    # once per process: settings in code, no project folder
    with DjangoShop(store, redis_url=server.url) as shop:
        shop.client.get("/products/1")    # Django's test Client: the full request cycle, no server

`DjangoShop` serves the course's `Store` with Django's three caching
tools: the per-view cache (`cache_page`) on the product and account pages,
template-fragment caching (`{% cache %}`) on the catalogue, and the
low-level API (`django.core.cache.caches`) for whatever a view wants.
Its caches are `"default"` (the local-memory backend) and `"redis"`
(Django's own Redis backend) when a `redis_url` is given; `cache=` picks
which one the views use.

`run_async(coro)` runs a coroutine to the end from plain code and from a
notebook alike (whose own event loop is already running), and
`hit_latency(get)` times a cache hit.
"""

import concurrent.futures
import statistics
import time

from .._checks import check_callable, check_choice, check_int
from .store import PRODUCTS, NotFoundError

__all__ = ["DjangoShop", "async_hit_latency", "configure_django", "django_caches", "hit_latency", "run_async"]

CATALOGUE = """{% load cache %}<p>Hello {{ user }}</p>
{% cache 60 catalogue %}<ul>{% for item in products %}<li>{{ item.name }}: ${{ item.price }}</li>{% endfor %}</ul>{% endcache %}"""


def configure_django():
    """Configure Django in this process, once: a local-memory cache, templates, no database, no project."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="cachelab: a notebook, not a site",  # noqa: S106 - signs nothing here
            ALLOWED_HOSTS=["testserver", "127.0.0.1", "localhost"],
            ROOT_URLCONF=__name__,  # replaced by each DjangoShop while it runs
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            DATABASES={},
            CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
            USE_TZ=True,
            TIME_ZONE="UTC",
        )
        django.setup()
    return settings


urlpatterns = []  # the ROOT_URLCONF before any DjangoShop runs


def cache_settings(redis_url=None):
    """Django's CACHES setting: "default" in local memory, and "redis" on `redis_url` if given."""
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "cachelab"}}
    if redis_url is not None:
        caches["redis"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url,
                           "KEY_PREFIX": "django"}
    return caches


def django_caches(redis_url=None):
    """A Django CacheHandler of its own (not the global `caches`) over cache_settings(redis_url)."""
    configure_django()
    from django.core.cache import CacheHandler

    return CacheHandler(cache_settings(redis_url))


class DjangoShop:
    """The shop as a Django app over a Store, with the per-view, fragment and low-level caches.

    A context manager: inside the block, Django's settings point at this
    shop's URLs and caches, and `client` is a `django.test.Client`.

    Pages: `/products/<id>` (cache_page, 60 s), `/account` (cache_page and
    vary_on_cookie: one entry per signed-in user; the user is the `user`
    cookie), `/` (the catalogue: the product list in a `{% cache %}`
    fragment, the greeting outside it) and `/uncached/products/<id>`.
    """

    # State:
    #   store, redis_url, alias   as given (alias: the cache the views use)
    #   urlpatterns               this shop's URLs (the object is the ROOT_URLCONF)
    #   client                    a django.test.Client while the block runs, else None
    #   _override                 the override_settings in force while the block runs
    def __init__(self, store, *, redis_url=None, cache="default", timeout=60):
        self.store = store
        self.redis_url = redis_url
        self.alias = check_choice("cache", cache, ["default"] + (["redis"] if redis_url else []))
        self.timeout = check_int("timeout", timeout, minimum=1)
        self.client = None
        self._override = None
        self.urlpatterns = None

    def __enter__(self):
        configure_django()
        from django.test import Client, override_settings

        self.urlpatterns = self._urls()
        self._override = override_settings(ROOT_URLCONF=self, CACHES=cache_settings(self.redis_url))
        self._override.enable()
        self.cache.clear()  # a fresh start: the local-memory cache outlives a block
        self.client = Client()
        return self

    def __exit__(self, *exc):
        from django.core.cache import caches

        caches.close_all()
        self._override.disable()
        self.client = self._override = None

    @property
    def cache(self):
        """The cache the views use (the low-level API: get, set, get_or_set, delete, ...)."""
        from django.core.cache import caches

        return caches[self.alias]

    def _urls(self):
        from django.http import Http404, HttpResponse
        from django.template import engines
        from django.urls import path
        from django.views.decorators.cache import cache_page
        from django.views.decorators.vary import vary_on_cookie

        per_view = cache_page(self.timeout, cache=self.alias, key_prefix="shop")
        fragment = engines["django"].from_string(CATALOGUE.replace("{% cache 60 catalogue %}",
                                                                   f"{{% cache {self.timeout} catalogue using=\"{self.alias}\" %}}"))

        def product(request, product_id):
            try:
                item = self.store.get_product(product_id)
            except NotFoundError:
                raise Http404("no such product") from None
            return HttpResponse(f"{item['name']}: ${item['price']}\n")

        def account(request):
            user_id = request.COOKIES.get("user", "")
            if not user_id.isdigit():
                return HttpResponse("sign in first\n", status=401)
            user = self.store.get_user(int(user_id))
            return HttpResponse(f"{user['name']} <{user['email']}>\n")

        def catalogue(request):
            def products():  # called only when the fragment is rendered, i.e. on a fragment miss
                return [self.store.get_product(pid) for pid in PRODUCTS]

            user = request.COOKIES.get("user", "guest")
            return HttpResponse(fragment.render({"user": user, "products": products}))

        return [
            path("", catalogue),
            path("products/<int:product_id>", per_view(product)),
            path("uncached/products/<int:product_id>", product),
            path("account", per_view(vary_on_cookie(account))),
        ]

    def __repr__(self):
        return f"DjangoShop({self.store!r}, cache={self.alias!r})"


def run_async(coro):
    """Run a coroutine to the end on a fresh event loop (in a worker thread) and return its result.

    A notebook's own event loop is already running, so `asyncio.run()`
    cannot be called from a cell; this works there and in plain code.
    """
    import asyncio

    if not asyncio.iscoroutine(coro):
        raise TypeError(f"coro must be a coroutine, e.g. main() for an async def main(), got {coro!r}")
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="run_async") as pool:
        return pool.submit(asyncio.run, coro).result()


def hit_latency(get, *, n=1000):
    """The median seconds of `get()` over n calls (after one warm-up call): a cache hit's cost."""
    check_callable("get", get, "lambda: cache.get('product:1')")
    check_int("n", n, minimum=1)
    get()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        get()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def async_hit_latency(get, *, n=1000):
    """`hit_latency` for a coroutine function: the median seconds of `await get()` over n calls."""
    check_callable("get", get, "lambda: client.get('product:1')")
    check_int("n", n, minimum=1)
    await get()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        await get()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
