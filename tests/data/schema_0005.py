"""The layer fields as released at Alembic revision 0005 (onemap before issue 13): the frozen
fixture the schema-evolution tests build old stores from. Frozen: never edit."""

RELEASED_0005: dict[str, tuple[str, ...]] = {
    "admin_areas": ("source_id", "adcode", "name", "level", "parent_adcode", "population", "area_km2",),
    "chemical_parks": ("source_id", "name", "risk_score", "risk_grade", "enterprise_count", "county_adcode",),
    "city_profile": ("source_id", "name", "adcode", "part", "work_epsg", "region_buffer_km", "area_km2", "source_file",),
    "flood_prone_areas": ("source_id", "name", "kind", "threatened_people", "county_adcode",),
    "geohazard_points": ("source_id", "name", "hazard_type", "scale", "threatened_people", "threatened_property_10k_cny", "danger_grade", "county_adcode",),
    "hazardous_enterprises": ("source_id", "name", "category", "major_hazard_level", "risk_level", "park_source_id", "county_adcode",),
    "incidents": ("source_id", "name", "kind", "occurred_at", "status", "description",),
    "population": ("source_id", "persons", "cell_size_m",),
    "rescue_stations": ("source_id", "name", "kind", "staff", "vehicles", "county_adcode",),
    "reservoirs": ("source_id", "name", "capacity_m3", "reservoir_class", "flood_limit_level_m", "current_level_m", "above_flood_limit", "dam_type", "county_adcode",),
    "risk_zones": ("source_id", "level", "level_code", "area_km2", "resolution_m",),
    "road_closures": ("source_id", "name", "cause", "status", "created_at", "lifted_at",),
    "roads": ("source_id", "name", "road_class", "speed_kmh", "oneway", "length_m",),
    "shelters": ("source_id", "name", "shelter_type", "stay_class", "effective_area_m2", "capacity_persons", "county_adcode",),
    "supply_depots": ("source_id", "name", "level", "main_supplies", "county_adcode",),
    "water_bodies": ("source_id", "name", "kind", "area_km2",),
}
