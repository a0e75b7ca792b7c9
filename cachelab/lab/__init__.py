"""The course's apparatus: what the notebooks use to measure and to draw.

Nothing here is meant for production; the library (`cachelab`'s top-level
modules and `cachelab.redis`) never imports it.  One module per job:

* workloads: seeded synthetic traces and `load_trace()` for real ones
* simulation: replaying traces through policies, hit-ratio curves
* experiments: the guide's four experiments (TTL, LRU, LFU, hit rate) as data
* store, ecommerce, demo: the seeded shop database, the e-commerce demo, its CLI
* measure, consistency: the write patterns measured; stepped consistency races
* stampede_sim, stampede_views: the stampede simulator and its views
* redis_experiments: notebook 09's measurements on a real server
* checklist: the "when to cache" assessment
* webserver, webshop, http_proxy, http_experiments: the shop as a web app on a real
  loopback server, a toy shared cache (CDN) in front of it, and notebook 15's measurements
* herd, frameworks: a herd of threads against each caching library's guard, and the shop
  as a Django app configured in code (notebook 16)
* views, plots, widgets: HTML/SVG views, matplotlib plots, ipywidgets over all of the above

Import a module by name (`from cachelab.lab.widgets import lru_widget`);
this package imports none of them, so matplotlib and ipywidgets load only
where a notebook asks for them.
"""
