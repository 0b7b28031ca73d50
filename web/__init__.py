"""Rendering: folium map builders, page templates and the map's static assets (served by api/)."""
