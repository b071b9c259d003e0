"""The contact sheet tiles every screenshot under its file name, and is rebuilt when stale."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from tests.helpers.contact_sheet import CAPTION_PX, COLUMNS, GAP, SHEET, TILE, build_sheet, stale

COLOURS = [(200, 30, 30), (30, 160, 30), (30, 30, 200), (200, 160, 0), (120, 0, 160)]


def write_screens(folder: Path) -> list[Path]:
    """Five flat-coloured PNGs of different shapes, named in order."""
    paths = []
    for index, colour in enumerate(COLOURS):
        path = folder / f"{index:02d}_screen.png"
        Image.new("RGB", (300 + 200 * index, 400), colour).save(path)
        paths.append(path)
    return paths


def tile_centre(index: int) -> tuple[int, int]:
    """The middle of tile ``index``'s image area in the sheet."""
    row, col = divmod(index, COLUMNS)
    x = GAP + col * (TILE[0] + GAP) + TILE[0] // 2
    y = GAP + row * (TILE[1] + CAPTION_PX + GAP) + CAPTION_PX + TILE[1] // 2
    return x, y


def test_sheet_tiles_every_screenshot_in_name_order(tmp_path) -> None:
    write_screens(tmp_path)
    sheet_path = build_sheet(tmp_path)
    assert sheet_path == tmp_path / SHEET
    with Image.open(sheet_path) as sheet:
        rows = -(-len(COLOURS) // COLUMNS)
        assert sheet.height == rows * (TILE[1] + CAPTION_PX + GAP) + GAP
        for index, colour in enumerate(COLOURS):
            assert sheet.getpixel(tile_centre(index)) == colour
        caption = sheet.crop((GAP, GAP, GAP + 200, GAP + CAPTION_PX)).convert("L")
        assert caption.getextrema()[0] < 80


def test_sheet_leaves_itself_out_and_knows_when_it_is_stale(tmp_path) -> None:
    paths = write_screens(tmp_path)
    assert stale(tmp_path)
    build_sheet(tmp_path)
    build_sheet(tmp_path)
    with Image.open(tmp_path / SHEET) as sheet:
        assert sheet.width == COLUMNS * (TILE[0] + GAP) + GAP
        assert sheet.getpixel(tile_centre(len(COLOURS))) != COLOURS[0]
    assert not stale(tmp_path)
    later = (tmp_path / SHEET).stat().st_mtime + 5
    os.utime(paths[2], (later, later))
    assert stale(tmp_path)


def test_no_screenshots_no_sheet(tmp_path) -> None:
    assert build_sheet(tmp_path) is None
    assert not stale(tmp_path)
