"""Stocks and scenarios (issue 16): two plain tables, as released: depot_stocks (what each supply
depot holds of each needs-profile item, layers/store/pg_stocks.py) and scenarios (stored hazard
scenarios with their footprint, layers/store/pg_scenarios.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Frozen SQL of the tables at this revision; a table that exists already is kept.
"""


from layers.migrations.frozen import create_tables, drop_tables

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES: dict[str, tuple[str, ...]] = {
    "depot_stocks": (
        'CREATE TABLE {schema}.depot_stocks (\n\tdepot_id TEXT NOT NULL, \n\titem TEXT NOT NULL, \n\tquantity FLOAT(53) NOT NULL, \n\tunit TEXT NOT NULL, \n\tupdated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, \n\tupdated_by TEXT, \n\tPRIMARY KEY (depot_id, item)\n)',
        "COMMENT ON TABLE {schema}.depot_stocks IS '储备库存 / Depot stocks'",
        "COMMENT ON COLUMN {schema}.depot_stocks.depot_id IS '储备库编号'",
        "COMMENT ON COLUMN {schema}.depot_stocks.item IS '物资'",
        "COMMENT ON COLUMN {schema}.depot_stocks.quantity IS '数量'",
        "COMMENT ON COLUMN {schema}.depot_stocks.unit IS '单位'",
        "COMMENT ON COLUMN {schema}.depot_stocks.updated_at IS '更新时间'",
        "COMMENT ON COLUMN {schema}.depot_stocks.updated_by IS '更新人'",
    ),
    "scenarios": (
        'CREATE TABLE {schema}.scenarios (\n\tid TEXT NOT NULL, \n\tkind TEXT NOT NULL, \n\tname TEXT NOT NULL, \n\tstatus TEXT NOT NULL, \n\tincident_id TEXT, \n\tclosure_id TEXT, \n\tcreated_at TIMESTAMP WITH TIME ZONE NOT NULL, \n\tcreated_by TEXT NOT NULL, \n\tended_at TIMESTAMP WITH TIME ZONE, \n\tparameters JSONB NOT NULL, \n\tresult JSONB, \n\tresidents BIGINT NOT NULL, \n\tdisplaced BIGINT NOT NULL, \n\tfootprint geometry(MULTIPOLYGON,4326), \n\tPRIMARY KEY (id)\n)',
        'CREATE INDEX idx_scenarios_footprint ON {schema}.scenarios USING gist (footprint)',
        'CREATE INDEX ix_scenarios_incident_id ON {schema}.scenarios (incident_id)',
        'CREATE INDEX ix_scenarios_status ON {schema}.scenarios (status)',
        "COMMENT ON TABLE {schema}.scenarios IS '情景 / Scenarios'",
        "COMMENT ON COLUMN {schema}.scenarios.id IS '情景编号'",
        "COMMENT ON COLUMN {schema}.scenarios.kind IS '类型'",
        "COMMENT ON COLUMN {schema}.scenarios.name IS '名称'",
        "COMMENT ON COLUMN {schema}.scenarios.status IS '状态'",
        "COMMENT ON COLUMN {schema}.scenarios.incident_id IS '关联事件'",
        "COMMENT ON COLUMN {schema}.scenarios.closure_id IS '关联封闭'",
        "COMMENT ON COLUMN {schema}.scenarios.created_at IS '创建时间'",
        "COMMENT ON COLUMN {schema}.scenarios.created_by IS '创建人'",
        "COMMENT ON COLUMN {schema}.scenarios.ended_at IS '结束时间'",
        "COMMENT ON COLUMN {schema}.scenarios.parameters IS '参数'",
        "COMMENT ON COLUMN {schema}.scenarios.result IS '结果'",
        "COMMENT ON COLUMN {schema}.scenarios.residents IS '影响人口'",
        "COMMENT ON COLUMN {schema}.scenarios.displaced IS '转移人口'",
        "COMMENT ON COLUMN {schema}.scenarios.footprint IS '影响范围'",
    ),
}


def upgrade(schema: str) -> None:
    create_tables(TABLES, schema, keep_existing=True)


def downgrade(schema: str) -> None:
    drop_tables(TABLES, schema)
