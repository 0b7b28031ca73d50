"""HTTP routes for depot stocks (储备库存): what each supply depot holds, and setting or removing
one item by hand. A whole ledger is imported with ``onemap stocks import``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ConfigDict, Field

from layers.services.stocks import delete_stock, set_stock, stock_records
from layers.store import Store

from .auth import EditorDep
from .dependencies import StrictBody
from .schemas import DeletedStock, DepotStock, DepotStocks, documented

router = APIRouter(prefix="/depot-stocks", tags=["Depot stocks"])
editor_router = APIRouter(prefix="/depot-stocks", tags=["Depot stocks"])
Key = Annotated[str, Field(min_length=1, max_length=100)]


class StockIn(StrictBody):
    """Strict: the quantity is a JSON number (``true`` or ``"5"`` is refused, not stored as 1 or 5)."""

    model_config = ConfigDict(strict=True)

    quantity: float = Field(ge=0, le=1e12, description="How much the depot holds, in unit.")
    unit: Annotated[str, Field(min_length=1, max_length=20)] = Field(description="The item's unit in the needs profiles (kg, l, kit, piece; 千克, 升 … are understood).")


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@router.get("", summary="What the depots hold (depot, item, quantity, unit)", **documented(DepotStocks, "The stocks, by depot and item"))
def list_stocks(request: Request, depot_id: Annotated[list[str] | None, Query(max_length=500)] = None) -> dict[str, Any]:
    store = _store(request)
    stocks = store.read_depot_stocks(depot_id)
    return {"stocks": stock_records(stocks, store.read("supply_depots")), "numberReturned": len(stocks)}


@editor_router.put("/{depot_id}/{item}", summary="Set what one depot holds of one item", **documented(DepotStock, "The stored stock"))
def put_stock(depot_id: Key, item: Key, body: StockIn, request: Request, principal: EditorDep) -> dict[str, Any]:
    store = _store(request)
    row = set_stock(store, depot_id, item, body.quantity, body.unit, actor=principal.username)
    return stock_records(row, store.read("supply_depots", filters={"source_id": depot_id}))[0]


@editor_router.delete("/{depot_id}/{item}", summary="Remove one item of one depot", **documented(DeletedStock, "What was removed"))
def remove_stock(depot_id: Key, item: Key, request: Request, principal: EditorDep) -> dict[str, Any]:
    delete_stock(_store(request), depot_id, item, actor=principal.username)
    return {"depot_id": depot_id, "item": item, "deleted": True}
