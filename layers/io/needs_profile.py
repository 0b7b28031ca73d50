"""Needs profiles (YAML): the shipped ones (``layers/defaults/needs_inasafe.yaml``, InaSAFE's
minimum needs, the default; ``needs_china.yaml``, Chinese relief norms where a source was found),
or a bureau's own copy."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

from gis.scenario.needs import NeedItem, NeedsProfile, NeedsProfileError
from layers.errors import InputError
from layers.io.yaml_file import read_yaml

DEFAULTS = Path(__file__).resolve().parent.parent / "defaults"
SHIPPED_PROFILES = {"inasafe": DEFAULTS / "needs_inasafe.yaml", "china": DEFAULTS / "needs_china.yaml"}
"""The shipped profiles by short name; ``inasafe`` is the default."""
DEFAULT_PROFILE = "inasafe"


def read_needs_profile(path: str | Path | None = None) -> NeedsProfile:
    """The profile in ``path``, or the default shipped one; an InputError names the file, the
    item and the allowed values (units, periods) when it is wrong."""
    path = Path(path) if path is not None else SHIPPED_PROFILES[DEFAULT_PROFILE]
    document = read_yaml(path, what="needs profile")
    try:
        return NeedsProfile.from_mapping(document, source=str(path))
    except NeedsProfileError as error:
        raise InputError(str(error)) from None


def shipped_needs_profile(name: str = DEFAULT_PROFILE) -> NeedsProfile:
    """A shipped profile by short name (``inasafe`` or ``china``)."""
    if name not in SHIPPED_PROFILES:
        raise InputError(f"unknown needs profile {name!r}; shipped: {', '.join(SHIPPED_PROFILES)}")
    return read_needs_profile(SHIPPED_PROFILES[name])


@cache
def stock_items() -> NeedsProfile:
    """Every item of the shipped profiles (the first profile's unit where both name one): what a
    depot stock ledger is matched against when no profile is given. Read once per process (the
    shipped files do not change; every stock answer names its items from it)."""
    profiles = [shipped_needs_profile(name) for name in SHIPPED_PROFILES]
    items: dict[str, NeedItem] = {}
    for profile in profiles:
        for item in profile.items:
            items.setdefault(item.item, item)
    return dataclasses.replace(profiles[0], name="shipped items", source=", ".join(p.name for p in profiles), items=tuple(items.values()))
