"""Response schemas for the OpenAPI document: what a success answer holds, so that clients (and
the schemathesis test, which checks every answer against them) know its shape. They document,
they do not filter: the routes build their bodies themselves (see ``documented``).

One module per API module: ``geojson`` (features, tiles), ``features`` (OGC documents),
``auth``, ``shares``, ``wallmap``, ``coverage``, ``risk``, ``tiles`` (vector tilesets), ``scenarios`` (with depot stocks and
the brief) and ``jobs`` (the 202 answer).
"""

from __future__ import annotations

from .auth import AuditEntry, AuditLog, CreatedUser, Me, Users
from .coverage import CoverageSummary
from .documented import DocumentedJSON, Responses, documented
from .features import Collection, Collections, Conformance, LandingPage, Link
from .geojson import CREATED_FEATURE, FEATURE, FEATURES, PNG_TILE, Feature, FeatureCollection
from .jobs import JobAccepted
from .risk import RiskAt, RiskSummary
from .scenarios import (
    DeletedStock,
    DepotStock,
    DepotStocks,
    Scenario,
    ScenarioFeature,
    ScenarioList,
    binary,
)
from .shares import CreatedShare, ShareLive, ShareRoute, Shares, ShareSnapshot, ShareSummary
from .tiles import TileSet, TileSets
from .wallmap import Live, Places, SearchResults, Situation

__all__ = [
    "CREATED_FEATURE", "FEATURE", "FEATURES", "PNG_TILE",
    "AuditEntry", "AuditLog", "Collection", "Collections", "Conformance", "CoverageSummary", "CreatedShare", "CreatedUser",
    "DocumentedJSON", "Feature", "FeatureCollection", "JobAccepted", "LandingPage", "Link", "Live", "Me", "Places",
    "Responses", "RiskAt", "RiskSummary", "SearchResults", "ShareLive", "ShareRoute", "ShareSnapshot", "ShareSummary", "Shares",
    "Situation", "TileSet", "TileSets", "Users", "documented",
    "DeletedStock", "DepotStock", "DepotStocks", "Scenario", "ScenarioFeature", "ScenarioList", "binary",
]
