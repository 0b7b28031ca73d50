"""The ``onemap`` command line, one module per command group. Thin: every command calls layers/gis
and prints the result.

``app``: the ``main`` group and the helpers every command shares (settings, store, accounts,
clean failures); ``data``: layers, sample, import, export; ``serve``: serve, demo; ``users``: user
…; ``route``: route nearest/areas; ``coverage``: coverage, coverage site; ``risk``: risk;
``city``: init, info; ``monitoring``: alerts, observe import, ingest mqtt; ``scenario``: scenario plume/area/dam-break/list/activate/end; ``stocks``: stocks import/list; ``export_tiles``: export-tiles. Importing this package registers every command on ``main``.
"""

from __future__ import annotations

from . import (  # noqa: F401  (each registers its commands on main)
    brief,
    city,
    coverage,
    data,
    export_tiles,
    monitoring,
    risk,
    route,
    scenario,
    serve,
    stocks,
    users,
)
from .app import main

__all__ = ["main"]
