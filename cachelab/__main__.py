"""`python -m cachelab`: the guide's e-commerce demo (see `python -m cachelab --help`)."""

from .lab.demo import main

raise SystemExit(main())
