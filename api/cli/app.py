"""The ``onemap`` group and what every command shares: settings, the store, accounts, the first
admin, clean failures and the padding of Chinese table columns.

Exit status: 0 success; 1 an import rejected rows (the report says which); 2 bad input or a
store that cannot be used (the message says what to do).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from wcwidth import wcswidth, wcwidth

from layers.errors import OnemapError
from layers.settings import Settings
from layers.store import Store, open_store

if TYPE_CHECKING:
    from layers.accounts.store import AccountStore

F = TypeVar("F", bound=Callable[..., Any])
EXIT_ROWS_REJECTED = 1
EXIT_BAD_INPUT = 2
PROBLEMS_SHOWN = 50


def _fail_cleanly(command: F) -> F:
    """Domain errors become one line on stderr and exit status 2, never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OnemapError as error:
            click.secho(f"错误 Error: {error}", fg="red", err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper  # type: ignore[return-value]


def _settings(ctx: click.Context) -> Settings:
    """The settings with the store's city profile applied (``Settings.with_profile``), resolved
    once per command; a GeoPackage that does not exist yet has no profile (and is not created)."""
    if "resolved_settings" not in ctx.obj:
        from layers.city import read_city_profile

        base: Settings = ctx.obj["settings"]
        exists = base.is_postgis or "store" in ctx.obj or Path(base.store).exists()
        ctx.obj["resolved_settings"] = base.with_profile(read_city_profile(_store(ctx)) if exists else None)
    settings: Settings = ctx.obj["resolved_settings"]
    return settings


def _accounts(ctx: click.Context) -> AccountStore:
    from layers.accounts.store import AccountStore

    accounts = AccountStore.for_settings(ctx.obj["settings"], store=_store(ctx))  # accounts need no city profile
    ctx.call_on_close(accounts.close)
    return accounts


def _cli_actor() -> str:
    """Who wrote from the command line, for the audit log."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


FIRST_ADMIN_FILE = "first-admin-password.txt"


def _ensure_first_admin(ctx: click.Context) -> None:
    """With auth on and no users yet: create the admin with a one-time password, printed once on
    a terminal, or else written to ``first-admin-password.txt`` (mode 0600) beside the store."""
    from layers.accounts.store import new_token
    from layers.accounts.tables import AuditLine

    if _settings(ctx).auth == "off":
        return
    accounts = _accounts(ctx)
    if accounts.users():
        return
    password = new_token()[:20]
    accounts.add_user("admin", password, "admin", audit=AuditLine(_cli_actor(), "create", "users", after=["admin"], detail={"role": "admin", "first": True}))
    if sys.stderr.isatty():
        click.secho(f"first admin created — user: admin  one-time password: {password}", fg="yellow", bold=True, err=True)
    else:
        # Not a terminal: this output is a log (systemd, docker, a file). The password goes to a
        # file only its owner can read, never into the log.
        settings = _settings(ctx)
        folder = Path.cwd() if settings.is_postgis else Path(settings.store).resolve().parent
        secret = folder / FIRST_ADMIN_FILE
        descriptor = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
        click.secho(f"first admin created — user: admin; its one-time password is in {secret} (only you can read it: log in, then delete it)", fg="yellow", bold=True, err=True)
    click.echo("  (change it: onemap user passwd admin; add users: onemap user add NAME --role editor)", err=True)


def _store(ctx: click.Context) -> Store:
    """The store, opened once per command (and closed with it)."""
    if "store" not in ctx.obj:
        store = open_store(ctx.obj["settings"])
        ctx.call_on_close(store.close)
        ctx.obj["store"] = store
    opened: Store = ctx.obj["store"]
    return opened


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--store", "store_location", metavar="PATH|URL", help="The store: a .gpkg path or a postgresql:// URL. Default: $ONEMAP_STORE, else ./var/onemap.gpkg.")
@click.option("-v", "--verbose", is_flag=True, help="Log what is done (to stderr).")
@click.pass_context
def main(ctx: click.Context, store_location: str | None, verbose: bool) -> None:
    """onemap 应急一张图: every hazard source and emergency resource of a city on one map.

    \b
    Start here:
      onemap demo                      sample city, risk zoning, coverage, wall map at :8000/map
      onemap init --boundary 370800_full.json --from gcj02 --name 济宁市   your own city (DataV boundary)
      onemap layers                    what the store holds
      onemap import shelters 避难场所.xlsx --report problems.csv
      onemap export roads roads.gpkg
      onemap serve --port 8000         wall map at /map, OGC API - Features at /collections
      onemap route nearest --lon 116.59 --lat 35.41 --layers rescue_stations
      onemap coverage --out coverage   shelter coverage gaps: GeoPackage, Excel, map
      onemap coverage site --p 10      where 10 new shelters would cover the most people
      onemap export-tiles --out city.pmtiles   offline field kit (PMTiles) for the share page

    The store is a GeoPackage file (default, no server needed) or PostGIS:
      ONEMAP_STORE=postgresql://user@host/db onemap layers
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"settings": Settings(store=store_location) if store_location else Settings()}


def _width(text: str) -> int:
    """Terminal columns of ``text`` (a Chinese character takes two), by wcwidth; 0 for controls."""
    return max(wcswidth(text), 0) if text.isprintable() else sum(max(wcwidth(ch), 0) for ch in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap
