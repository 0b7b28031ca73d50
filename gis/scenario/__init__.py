"""Scenarios and their consequences, pure: a hazard's footprint (a chemical plume, a dam break, a
drawn area), the people it reaches, what the displaced need, and which depot sends what.

Everything here works in the city's projected CRS (metres) on arrays and GeoDataFrames; reading
files, storage and HTTP stay in ``layers/`` and ``api/``.
"""

from __future__ import annotations


class ScenarioInputError(ValueError):
    """A scenario's parameters are wrong (a wind speed of 0, a negative release, a reservoir
    without capacity, a DEM that misses the footprint): the message says which and why."""
