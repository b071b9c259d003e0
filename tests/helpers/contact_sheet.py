"""A contact sheet of the screenshot tests' images: every PNG, scaled down, under its file name.

``python -m tests.helpers.contact_sheet [FOLDER]`` (default ``tests/screenshots``) writes
``FOLDER/contact_sheet.png``; the test session does the same after tests wrote screenshots.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tests.helpers.app_window import SCREENSHOTS

SHEET = "contact_sheet.png"
COLUMNS = 4
TILE = (480, 300)
CAPTION_PX = 22
GAP = 10
FONT_PX = 15
BACKGROUND = (236, 236, 236)


def screenshots(folder: Path) -> list[Path]:
    """The PNGs in ``folder`` by name, without the contact sheet itself."""
    return sorted(path for path in folder.glob("*.png") if path.name != SHEET)


def tile(path: Path, font: ImageFont.ImageFont) -> Image.Image:
    """``path`` scaled to fit :data:`TILE` (aspect kept), its file name as a caption above it."""
    cell = Image.new("RGB", (TILE[0], TILE[1] + CAPTION_PX), BACKGROUND)
    with Image.open(path) as image:
        thumb = image.convert("RGB")
    thumb.thumbnail(TILE, Image.Resampling.LANCZOS)
    cell.paste(thumb, ((TILE[0] - thumb.width) // 2, CAPTION_PX))
    ImageDraw.Draw(cell).text((2, 2), path.name, fill=(20, 20, 20), font=font)
    return cell


def build_sheet(folder: Path, out: Path | None = None) -> Path | None:
    """Tile every screenshot in ``folder`` into ``out`` (default ``folder/contact_sheet.png``),
    :data:`COLUMNS` a row; ``None`` when there is nothing to tile."""
    paths = screenshots(folder)
    if not paths:
        return None
    font = ImageFont.load_default(size=FONT_PX)
    rows = -(-len(paths) // COLUMNS)
    cell_w, cell_h = TILE[0] + GAP, TILE[1] + CAPTION_PX + GAP
    sheet = Image.new("RGB", (COLUMNS * cell_w + GAP, rows * cell_h + GAP), "white")
    for index, path in enumerate(paths):
        row, col = divmod(index, COLUMNS)
        sheet.paste(tile(path, font), (GAP + col * cell_w, GAP + row * cell_h))
    target = out or folder / SHEET
    sheet.save(target)
    return target


def stale(folder: Path) -> bool:
    """Whether a screenshot in ``folder`` is newer than its contact sheet (or it has none)."""
    paths = screenshots(folder)
    sheet = folder / SHEET
    if not paths:
        return False
    return not sheet.exists() or max(p.stat().st_mtime for p in paths) > sheet.stat().st_mtime


if __name__ == "__main__":
    print(build_sheet(Path(sys.argv[1]) if len(sys.argv) > 1 else SCREENSHOTS))
