"""The tile cache: renders once, keeps at most its size (least recently used out), and forgets
everything when the source changes."""

from __future__ import annotations

from api.tiles import TileCache


def test_the_cache_renders_once_drops_the_least_recent_and_forgets_an_old_source() -> None:
    cache, renders = TileCache(size=2), []

    def render(name: str) -> bytes:
        renders.append(name)
        return name.encode()

    source = object()
    assert cache.get(source, 1, 0, 0, lambda: render("a")) == b"a"
    assert cache.get(source, 1, 0, 0, lambda: render("a again")) == b"a"
    cache.get(source, 1, 1, 0, lambda: render("b"))
    cache.get(source, 1, 0, 0, lambda: render("a third time"))  # a is now the most recent
    cache.get(source, 1, 1, 1, lambda: render("c"))  # b, the least recent, goes
    cache.get(source, 1, 1, 0, lambda: render("b again"))
    assert renders == ["a", "b", "c", "b again"]
    cache.get(object(), 1, 0, 0, lambda: render("a, new source"))
    assert renders[-1] == "a, new source"
