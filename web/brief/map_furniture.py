"""The map's furniture (what a printed map carries besides its layers): the legend, the scale
bar, the north arrow, and the points' text labels placed where they collide with nothing, all
drawn with Pillow at the final size in the brief's CJK font."""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from .content import ClosureLayer, LineLayer, MapLayer, PointLayer, ZoneLayer, clean_text
from .fonts import find_cjk_font

logger = logging.getLogger(__name__)

DPI = 200
"""Pixels per inch of the map image."""
ZONE_ALPHA = 0.45
"""Opacity of a zone's fill: the basemap shows through."""
INK, _PAPER, _GREY = (34, 34, 34), (255, 255, 255), (120, 120, 120)


@dataclass(frozen=True)
class ScaleBar:
    """The scale bar as drawn: ``metres`` long, from pixel column ``x0`` to ``x1`` (its ends),
    its top edge (drawn in ink) on row ``y0``, its bottom on ``y1``."""

    metres: float
    x0: int
    x1: int
    y0: int
    y1: int


@functools.cache
def font(size_px: int) -> ImageFont.FreeTypeFont:
    """The CJK font at ``size_px`` pixels (loaded once per size)."""
    face = find_cjk_font()
    return ImageFont.truetype(str(face.path), size_px, index=face.index)


def mm_px(mm: float) -> float:
    """Millimetres on paper → pixels of the map image."""
    return mm / 25.4 * DPI


def rgba(colour: str, alpha: float = 1.0) -> tuple[int, int, int, int]:
    """#rrggbb and an opacity (0-1) → an RGBA tuple."""
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16), round(alpha * 255))


def draw_marker(draw: ImageDraw.ImageDraw, x: float, y: float, radius: float, shape: str, fill: Any, outline: Any, width: int) -> None:
    """A point marker of ``shape`` (content.MARKERS) centred on (x, y) pixels."""
    r = radius
    if shape == "circle":
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill, outline=outline, width=width)
    elif shape == "square":
        draw.rectangle((x - 0.85 * r, y - 0.85 * r, x + 0.85 * r, y + 0.85 * r), fill=fill, outline=outline, width=width)
    elif shape == "triangle":
        draw.polygon([(x, y - 1.15 * r), (x + r, y + 0.7 * r), (x - r, y + 0.7 * r)], fill=fill, outline=outline, width=width)
    elif shape == "diamond":
        draw.polygon([(x, y - 1.1 * r), (x + r, y), (x, y + 1.1 * r), (x - r, y)], fill=fill, outline=outline, width=width)
    else:  # cross: a plus sign, as rescue stations are marked
        a, b = 0.35 * r, r
        draw.polygon([(x - a, y - b), (x + a, y - b), (x + a, y - a), (x + b, y - a), (x + b, y + a), (x + a, y + a), (x + a, y + b),
                      (x - a, y + b), (x - a, y + a), (x - b, y + a), (x - b, y - a), (x - a, y - a)], fill=fill, outline=outline, width=width)


def shorten(text: str, limit: int) -> str:
    """Cleaned text cut to ``limit`` characters with "…"."""
    text = clean_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


Box = tuple[float, float, float, float]


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def draw_labels(draw: ImageDraw.ImageDraw, points: list[tuple[PointLayer, list[tuple[float, float]]]], taken: list[Box], size: tuple[int, int]) -> int:
    """Each point's text beside it (right, left, above, below: the first place free of the
    decorations, the other markers and the labels placed); a text with no free place is left out
    (counted). The last drawn layer (the most important) is labelled first."""
    text_font, gap, dropped = font(22), 6.0, 0
    placed = list(taken)
    markers = [(x - 10, y - 10, x + 10, y + 10) for _, positions in points for x, y in positions]
    for layer, positions in reversed(points):
        radius = mm_px(layer.size_mm) / 2
        for (x, y), text in zip(positions, layer.texts or [None] * len(positions), strict=True):
            if not text or not (0 <= x < size[0] and 0 <= y < size[1]):
                continue
            label = shorten(text, 16)
            left, top, right, bottom = draw.textbbox((0, 0), label, font=text_font)
            w, h = right - left, bottom - top
            others = [m for m in markers if not m[0] < x < m[2] or not m[1] < y < m[3]]
            for cx, cy in ((x + radius + gap, y - h / 2), (x - radius - gap - w, y - h / 2), (x - w / 2, y - radius - gap - h), (x - w / 2, y + radius + gap)):
                box = (cx - 2, cy - 2, cx + w + 2, cy + h + 2)
                inside = box[0] >= 4 and box[1] >= 4 and box[2] <= size[0] - 4 and box[3] <= size[1] - 4
                if inside and not any(_overlaps(box, other) for other in placed + others):
                    draw.text((cx - left, cy - top), label, font=text_font, fill=INK, stroke_width=3, stroke_fill=_PAPER)
                    placed.append(box)
                    break
            else:
                dropped += 1
    if dropped:
        logger.info("brief map: %d point labels left out for lack of room", dropped)
    return dropped


def corner(covered: NDArray[np.bool_], size: tuple[int, int], corners: tuple[str, ...], inset: int = 16) -> Box:
    """The box of ``size`` in the corner (of ``corners``, preferred first) over fewest drawn pixels."""
    height, width = covered.shape
    best: tuple[int, Box] | None = None
    for corner in corners:
        x = inset if corner.endswith("left") else width - inset - size[0]
        y = inset if corner.startswith("top") else height - inset - size[1]
        box = (x, y, x + size[0], y + size[1])
        count = int(covered[max(y, 0): y + size[1], max(x, 0): x + size[0]].sum())
        if best is None or count < best[0]:
            best = (count, box)
    assert best is not None
    return best[1]


def _free(covered: NDArray[np.bool_], taken: list[Box]) -> NDArray[np.bool_]:
    """``covered`` with the boxes already used marked as covered too."""
    blocked = covered.copy()
    for box in taken:
        blocked[max(int(box[1]), 0): max(int(box[3]), 0), max(int(box[0]), 0): max(int(box[2]), 0)] = True
    return blocked


def nice_length(limit_m: float) -> float:
    """The longest round length (1, 2 or 5 × 10ⁿ metres) not above ``limit_m``."""
    power = 10 ** math.floor(math.log10(limit_m))
    return max(step * power for step in (1, 2, 5) if step * power <= limit_m)


def draw_scale_bar(draw: ImageDraw.ImageDraw, covered: NDArray[np.bool_], metres_per_px: float, taken: list[Box]) -> tuple[ScaleBar, Box]:
    """A two-part bar of a round length (≤ 22 % of the width) in a free bottom corner; the bar
    and the box it is drawn in."""
    height, width = covered.shape
    metres = nice_length(0.22 * width * metres_per_px)
    length = round(metres / metres_per_px)
    unit, divisor = ("km", 1000.0) if metres >= 1000 else ("m", 1.0)
    text_font = font(22)
    box = corner(_free(covered, taken), (int(length + draw.textlength(f" {unit}", font=text_font) + 48), 70), ("bottom-left", "bottom-right"))
    draw.rounded_rectangle(box, radius=6, fill=(255, 255, 255), outline=(190, 190, 190))
    x0, y0 = int(box[0] + 18), int(box[3] - 26)
    x1, y1 = x0 + length, y0 + 10
    middle = x0 + length // 2
    draw.rectangle((x0, y0, middle, y1), fill=INK, outline=INK)
    draw.rectangle((middle, y0, x1, y1), fill=_PAPER, outline=INK, width=2)
    for x, value in ((x0, 0.0), (middle, metres / 2), (x1, metres)):
        draw.text((x, y0 - 6), f"{value / divisor:g}", font=text_font, fill=INK, anchor="ms")
    draw.text((x1 + draw.textlength(f"{metres / divisor:g}", font=text_font) / 2 + 4, y0 - 6), unit, font=text_font, fill=INK, anchor="ls")
    return ScaleBar(metres, x0, x1, y0, y1), box


def draw_north_arrow(draw: ImageDraw.ImageDraw, covered: NDArray[np.bool_], taken: list[Box]) -> Box:
    """An arrow with 北 above and N below, in a free top corner (Web Mercator: north is up)."""
    box = corner(_free(covered, taken), (64, 128), ("top-right", "top-left"))
    left, top, right, _ = box
    cx = (left + right) / 2
    draw.rounded_rectangle(box, radius=6, fill=(255, 255, 255), outline=(190, 190, 190))
    draw.text((cx, top + 8), "北", font=font(30), fill=INK, anchor="mt")
    tip, base, half = top + 46, top + 100, 16
    draw.polygon([(cx, tip), (cx - half, base), (cx, base - 14)], fill=INK)
    draw.polygon([(cx, tip), (cx + half, base), (cx, base - 14)], fill=_PAPER, outline=INK)
    draw.text((cx, base + 4), "N", font=font(20), fill=INK, anchor="mt")
    return box


class Legend:
    """The legend box: points, lines, closures, then zones from the most severe; labels cut at 18."""

    ROW, SWATCH, PAD = 34, 44, 14

    def __init__(self, layers: list[MapLayer], *, max_height: int) -> None:
        zones = sorted((layer for layer in layers if isinstance(layer, ZoneLayer)), key=lambda z: -z.severity)
        rank = {PointLayer: 0, LineLayer: 1, ClosureLayer: 2}
        entries = sorted((layer for layer in layers if not isinstance(layer, ZoneLayer)), key=lambda layer: rank[type(layer)]) + zones
        rows = max((max_height - 2 * self.PAD - 40) // self.ROW, 1)
        self.entries = entries[:rows]
        self.labels = [shorten(layer.label, 18) for layer in self.entries]
        if len(entries) > rows:  # the last row says how many are left out
            self.entries, self.labels = self.entries[:-1], self.labels[:-1] + [f"… 另 {len(entries) - rows + 1} 项"]
        text_w = max([font(24).getlength(label) for label in self.labels] + [font(26).getlength("图例")])
        self.size = (int(self.PAD * 3 + self.SWATCH + text_w), int(self.PAD * 2 + 40 + self.ROW * len(self.labels)))
        if not self.labels:
            self.size = (0, 0)

    def draw(self, draw: ImageDraw.ImageDraw, box: Box) -> Box:
        """Draw the legend in ``box`` (from ``corner``); returns the box."""
        if not self.labels:
            return (0, 0, 0, 0)
        draw.rectangle(box, fill=(255, 255, 255), outline=_GREY, width=2)
        left, top = box[0] + self.PAD, box[1] + self.PAD
        draw.text((left, top), "图例", font=font(26), fill=INK, stroke_width=1, stroke_fill=INK)
        for row, label in enumerate(self.labels):
            y = top + 40 + row * self.ROW + self.ROW / 2
            draw.text((left + self.SWATCH + self.PAD, y), label, font=font(24), fill=INK, anchor="lm")
            if row >= len(self.entries):
                break
            layer = self.entries[row]
            swatch = (left, y - 11, left + self.SWATCH, y + 11)
            if isinstance(layer, ZoneLayer):
                r, g, b, _ = rgba(layer.colour)
                blend = tuple(round(ZONE_ALPHA * c + (1 - ZONE_ALPHA) * 255) for c in (r, g, b))
                draw.rectangle(swatch, fill=blend, outline=(r, g, b), width=2)
            elif isinstance(layer, ClosureLayer):
                hatch = Image.new("L", (self.SWATCH, 22), 0)
                for dx in range(-22, self.SWATCH, 10):
                    ImageDraw.Draw(hatch).line([(dx, 22), (dx + 22, 0)], fill=255, width=2)
                draw.bitmap((int(swatch[0]), int(swatch[1])), hatch, fill=rgba(layer.colour)[:3])
                draw.rectangle(swatch, outline=rgba(layer.colour)[:3], width=3)
            elif isinstance(layer, LineLayer):
                draw.line([(left, y), (left + self.SWATCH, y)], fill=rgba(layer.colour)[:3], width=max(2, round(mm_px(layer.width_mm))))
            else:
                draw_marker(draw, left + self.SWATCH / 2, y, mm_px(layer.size_mm) / 2, layer.marker, rgba(layer.colour)[:3], _PAPER, 2)
        return box
