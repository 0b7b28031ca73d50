"""Add the city_profile layer (the city's outline and region, written by onemap init).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

The table is spelled out here as it is at this revision (not built from the live catalogue), with
the same shape as every layer table: fid, unique source_id, the fields, geom (MULTIPOLYGON, EPSG:4326,
GiST index), updated_at. On a fresh database 0001 already built it from the catalogue, and the
check for an existing table makes this a no-op.
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLE = "city_profile"


def upgrade(schema: str) -> None:
    if sa.inspect(op.get_bind()).has_table(TABLE, schema=schema):
        return
    op.create_table(
        TABLE,
        sa.Column("fid", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("source_id", sa.Text(), nullable=False, unique=True),
        sa.Column("name", sa.Text(), comment="名称"),
        sa.Column("adcode", sa.Text(), comment="行政区划代码"),
        sa.Column("part", sa.Text(), comment="部分"),
        sa.Column("work_epsg", sa.BigInteger(), comment="工作坐标系 EPSG"),
        sa.Column("region_buffer_km", sa.Float(precision=53), comment="区域缓冲距离 (km)"),
        sa.Column("area_km2", sa.Float(precision=53), comment="面积 (km²)"),
        sa.Column("source_file", sa.Text(), comment="边界来源文件"),
        sa.Column("geom", Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
        comment="城市范围 / City profile",
    )
    op.create_index(f"idx_{TABLE}_geom", TABLE, ["geom"], schema=schema, postgresql_using="gist")


def downgrade(schema: str) -> None:
    op.drop_table(TABLE, schema=schema)
