"""The course's shop as a small Flask application, with the caching headers as a parameter.

    shop = Shop(Store(), policy=HeaderPolicy(product="public, max-age=60"))
    with serve(shop) as server:
        requests.get(server.url + "/products/1")

Pages: `/` (the catalogue), `/products/<id>` (name and price; a POST with
a `price` form field changes it), `/account`
(the signed-in user's page; the user is the `user` cookie, a stand-in for
a session) and `/static/shop.css`.  `HeaderPolicy` says which
Cache-Control, validators (ETag, Last-Modified) and Vary the pages carry,
so one app serves every header choice the notebook compares;
`HEADERS_OFF` sends none, as a framework does by default.

Flask, because it is the WSGI framework most Python shops run (with
Django), and WSGI because the caching headers are the same on any stack:
nothing here is Flask-specific except the routing.

Two mistakes are switches, for the security section: `reflect_forwarded_host`
(the page's stylesheet link is absolute, built from the X-Forwarded-Host
header, as apps behind a proxy often do) and `strict_paths=False` (`/account/anything` also
serves the account page, as a catch-all route does).
"""

import contextlib
import dataclasses
import html
import re
import time

from flask import Flask, Response, request

from ..httpcache import cache_control, etag_for, http_date, not_modified
from .._checks import check_callable
from .store import PRODUCTS, NotFoundError

__all__ = ["HEADER_CHOICES", "HEADERS_OFF", "HeaderPolicy", "Shop", "shown"]


@dataclasses.dataclass(frozen=True)
class HeaderPolicy:
    """The caching headers a Shop sends: Cache-Control per kind of page, validators, and Vary.

    `product` covers the catalogue and product pages, `account` the user's
    page; None sends no Cache-Control.  `validators` adds ETag and (on
    product pages) Last-Modified, so caches can revalidate with a 304.
    """

    product: str | None = "public, max-age=60"
    account: str | None = "private, no-cache"
    validators: bool = True
    vary: str | None = "Cookie"  # on the account page: it differs per signed-in user

    def __post_init__(self):
        for name in ("product", "account", "vary"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a header value (str) or None, got {value!r}")
        if not isinstance(self.validators, bool):
            raise TypeError(f"validators must be True or False, got {self.validators!r}")


HEADERS_OFF = HeaderPolicy(product=None, account=None, validators=False, vary=None)

# The header choices the notebook compares, for the product pages.
HEADER_CHOICES = {
    "no headers": HEADERS_OFF,
    "no-store": HeaderPolicy(product=cache_control(no_store=True), validators=False),
    "no-cache + ETag": HeaderPolicy(product=cache_control(no_cache=True)),
    "max-age=60": HeaderPolicy(product=cache_control(public=True, max_age=60)),
    "max-age=0, s-maxage=10": HeaderPolicy(product=cache_control(public=True, max_age=0, s_maxage=10)),
    "max-age=10, swr=50": HeaderPolicy(product=cache_control(public=True, max_age=10,
                                                             stale_while_revalidate=50)),
}

STATIC_CSS = "body { font-family: sans-serif; }\n"


class Shop:
    """The shop's WSGI app over a Store; call `set_price` so Last-Modified follows the change.

    `clock` stamps changes for Last-Modified (Unix seconds; pass a
    FakeClock started at a real date to make them deterministic).
    """

    # State:
    #   store, policy, clock    as given
    #   updated                 product id -> clock() of its last change (Last-Modified)
    #   failing                 True during outage(): every page answers 503
    #   app                     the Flask application
    def __init__(self, store, *, policy=HeaderPolicy(), clock=time.time, reflect_forwarded_host=False,
                 strict_paths=True):
        if not isinstance(policy, HeaderPolicy):
            raise TypeError(f"policy must be a HeaderPolicy, got {policy!r}")
        self.store = store
        self.policy = policy
        self.clock = check_callable("clock", clock, "time.time")
        self.reflect_forwarded_host = reflect_forwarded_host
        self.strict_paths = strict_paths
        self.updated = dict.fromkeys(PRODUCTS, clock())
        self.failing = False
        self.app = self._routes(Flask(__name__))

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)

    def set_price(self, product_id, price):
        """Change a price in the store and stamp the change for Last-Modified."""
        self.store.set_price(product_id, price)
        self.updated[product_id] = self.clock()

    @contextlib.contextmanager
    def outage(self):
        """Every page answers 503 until the block ends: the origin is down (for stale-if-error)."""
        self.failing = True
        try:
            yield self
        finally:
            self.failing = False

    # -- the pages

    def _routes(self, app):
        @app.errorhandler(404)
        def not_found(error):
            return Response("not found\n", 404)

        @app.before_request
        def down():
            if self.failing:
                return Response("the shop is down\n", 503, {"Retry-After": "30"})

        @app.get("/")
        def catalogue():
            items = "".join(f'<li><a href="/products/{pid}">{html.escape(p["name"])}</a></li>'
                            for pid, p in PRODUCTS.items())
            return self._page("Shop", f"<ul>{items}</ul>", self.policy.product, max(self.updated.values()))

        @app.get("/products/<int:product_id>")
        def product(product_id):
            try:
                item = self.store.get_product(product_id)
            except NotFoundError:
                return Response("no such product\n", 404)
            body = f'<h1>{html.escape(item["name"])}</h1><p class="price">${item["price"]}</p>'
            return self._page(item["name"], body, self.policy.product, self.updated[product_id])

        @app.post("/products/<int:product_id>")
        def change_price(product_id):
            price = request.form.get("price", "")
            if product_id not in PRODUCTS or not price.isdigit():
                return Response("a known product and a whole price, please\n", 400)
            self.set_price(product_id, int(price))
            return Response(status=303, headers={"Location": f"/products/{product_id}"})  # then GET it

        def account(rest=None):
            user_id = request.cookies.get("user", "")
            if not user_id.isdigit():
                return Response("sign in first\n", 401)
            try:
                user = self.store.get_user(int(user_id))
            except NotFoundError:
                return Response("sign in first\n", 401)
            body = (f'<h1>{html.escape(user["name"])}</h1>'
                    f'<p class="email">{html.escape(user["email"])}</p>')
            response = self._page("Your account", body, self.policy.account, None)
            if self.policy.vary and response.status_code == 200:
                response.headers["Vary"] = self.policy.vary
            return response

        app.add_url_rule("/account", "account", account)
        if not self.strict_paths:  # the catch-all a web cache deception attack needs
            app.add_url_rule("/account/<path:rest>", "account_any", account)

        @app.get("/static/shop.css")
        def stylesheet():
            return Response(STATIC_CSS, mimetype="text/css",
                            headers={"Cache-Control": cache_control(public=True, max_age=86400, immutable=True)}
                            if self.policy.product else {})

        return app

    def _page(self, title, body, cache_header, last_modified):
        """An HTML page with this policy's headers; a 304 when the request's validators match."""
        sheet = "/static/shop.css"
        if self.reflect_forwarded_host:  # an absolute link, to the host the proxy says it was asked for
            sheet = f'//{request.headers.get("X-Forwarded-Host", request.host)}{sheet}'
        text = (f'<!doctype html><html><head><title>{html.escape(title)}</title>'
                f'<link rel="stylesheet" href="{html.escape(sheet)}"></head>'
                f'<body>{body}</body></html>')
        headers = {}
        if cache_header:
            headers["Cache-Control"] = cache_header
        etag = None
        if self.policy.validators:
            headers["ETag"] = etag = etag_for(text)
            if last_modified is not None:
                headers["Last-Modified"] = http_date(last_modified)
        if self.policy.validators and not_modified(request.headers, etag=etag, last_modified=last_modified):
            return Response(status=304, headers=headers)
        return Response(text, mimetype="text/html", headers=headers)

    def __repr__(self):
        return f"Shop({self.store!r}, policy={self.policy!r})"


def shown(page):
    """What a reader of a shop page sees: its text without tags, and the host of an absolute stylesheet link."""
    if isinstance(page, bytes):
        page = page.decode()
    if not isinstance(page, str):
        raise TypeError(f"page must be the HTML text of a page, got {page!r}")
    sheet = re.search(r'<link rel="stylesheet" href="//([^/:"]*)', page)
    text = " ".join(re.sub(r"<title>.*?</title>|<[^>]+>", " ", page).split())
    return html.unescape(text) + (f" [stylesheet from {html.unescape(sheet.group(1))}]" if sheet else "")
