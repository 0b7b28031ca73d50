"""What every per-area table row starts with: the administrative area it is about."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AdminAreaRow(BaseModel):
    """One township (乡镇街道) or county (区县) of a per-area table."""

    adcode: str = Field(description="行政区划代码.")
    name: str
    level: Literal["区县", "乡镇街道"]
    parent_adcode: str | None = Field(description="上级区划代码.")
