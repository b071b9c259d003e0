"""Line charts as PNG with Pillow alone (installed with torchvision; no matplotlib, no display).

Enough for a sweep's summary and the paper experiment: lines with markers, an optional shaded
band per line, dashed vertical marks with labels, ticks at 1-2-5 steps, a legend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE = (960, 600)
MARGIN = (90, 40, 60, 80)  # left, right, top, bottom
PALETTE = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14))


@dataclass(frozen=True)
class Series:
    """One series: points (joined unless ``joined`` is false) and an optional shaded band."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    band: tuple[Sequence[float], Sequence[float]] | None = None
    joined: bool = True


@dataclass(frozen=True)
class Mark:
    """A dashed vertical line at ``x`` with a label."""

    x: float
    label: str


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering ``[low, high]``."""
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's default font at ``size`` (the fixed bitmap font on an old Pillow)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _dashed(draw: ImageDraw.ImageDraw, x: float, top: float, bottom: float, color: tuple) -> None:
    """A dashed vertical line at ``x`` from ``top`` to ``bottom`` (pixels)."""
    y = top
    while y < bottom:
        draw.line([(x, y), (x, min(y + 8, bottom))], fill=color, width=2)
        y += 14


def line_chart(
    path: Path,
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    marks: Sequence[Mark] = (),
    legend: tuple[float, float] = (0.0, 0.0),
) -> Path:
    """Draw the chart and save it as PNG at ``path``.

    ``legend`` places the legend's top-left corner, in fractions of the plot area.
    """
    image = Image.new("RGBA", SIZE, "white")
    shade = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    draw, shade_draw = ImageDraw.Draw(image), ImageDraw.Draw(shade)
    left, right, top, bottom = MARGIN[0], SIZE[0] - MARGIN[1], MARGIN[2], SIZE[1] - MARGIN[3]
    (x0, x1), (y0, y1) = x_range, y_range

    def to_px(x: float, y: float) -> tuple[float, float]:
        """Data coordinates to pixels (``y`` clamped to the plot)."""
        return (
            left + (x - x0) / (x1 - x0) * (right - left),
            bottom - (min(max(y, y0), y1) - y0) / (y1 - y0) * (bottom - top),
        )

    small, large = _font(14), _font(18)
    for tick in nice_ticks(x0, x1):
        px = to_px(tick, y0)[0]
        draw.line([(px, top), (px, bottom)], fill=(232, 232, 232))
        draw.text((px, bottom + 8), f"{tick:g}", fill="black", font=small, anchor="mt")
    for tick in nice_ticks(y0, y1):
        py = to_px(x0, tick)[1]
        draw.line([(left, py), (right, py)], fill=(232, 232, 232))
        draw.text((left - 8, py), f"{tick:g}", fill="black", font=small, anchor="rm")
    draw.rectangle([left, top, right, bottom], outline="black")
    for i, line in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        if line.band is not None:
            upper = [to_px(x, y) for x, y in zip(line.xs, line.band[1], strict=True)]
            lower = [to_px(x, y) for x, y in zip(line.xs, line.band[0], strict=True)]
            shade_draw.polygon(upper + lower[::-1], fill=(*color, 50))
        points = [to_px(x, y) for x, y in zip(line.xs, line.ys, strict=True)]
        image.alpha_composite(shade)
        shade = Image.new("RGBA", SIZE, (0, 0, 0, 0))
        shade_draw = ImageDraw.Draw(shade)
        if line.joined:
            draw.line(points, fill=color, width=3)
        for px, py in points:
            draw.ellipse([px - 4, py - 4, px + 4, py + 4], fill=color)
        lx = left + 16 + legend[0] * (right - left)
        ly = top + 18 + legend[1] * (bottom - top) + 24 * i
        draw.line([(lx, ly), (lx + 30, ly)], fill=color, width=3)
        draw.text((lx + 38, ly), line.label, fill="black", font=small, anchor="lm")
    for j, mark in enumerate(marks):
        px = to_px(mark.x, y0)[0]
        _dashed(draw, px, top, bottom, (90, 90, 90))
        draw.text(
            (px + 6, bottom - 14 - 20 * j), mark.label, fill=(60, 60, 60), font=small, anchor="lb"
        )
    draw.text(((left + right) / 2, 22), title, fill="black", font=large, anchor="mm")
    draw.text(((left + right) / 2, SIZE[1] - 30), x_label, fill="black", font=small, anchor="mm")
    label = Image.new("RGBA", (bottom - top, 24), (0, 0, 0, 0))
    ImageDraw.Draw(label).text(
        ((bottom - top) / 2, 12), y_label, fill="black", font=small, anchor="mm"
    )
    image.alpha_composite(label.rotate(90, expand=True), (18, top))
    image.convert("RGB").save(path)
    return path
