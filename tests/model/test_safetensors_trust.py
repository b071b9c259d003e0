"""Malformed safetensors headers fail in one line; odd but valid files open; opening is linear."""

from __future__ import annotations

import gc
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from rmt_gui.errors import FileError
from rmt_gui.model.formats import safetensors_file
from rmt_gui.model.formats.safetensors_file import MAX_CONTAINERS, SafetensorsCheckpoint
from rmt_gui.model.opener import open_checkpoint
from tests.helpers.cli_errors import error_line, file_error

WEIGHT = np.arange(16, dtype=np.float32).reshape(4, 4)
GOOD_ENTRY = '"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}'


def write_safetensors(
    path: Path, header: str | bytes, data: bytes, length: int | None = None
) -> str:
    """A file of ``length`` (default: the real one), the header bytes, then ``data``."""
    raw = header.encode() if isinstance(header, str) else header
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + data)
    return str(path)


def entry(shape: str = "[4, 4]", offsets: str = "[0, 64]", dtype: str = '"F32"') -> str:
    """A one-tensor header with the given JSON spellings of its fields."""
    return f'{{"w": {{"dtype": {dtype}, "shape": {shape}, "data_offsets": {offsets}}}}}'


DIGITS_5000 = "7" * 5000
DIGITS_4000 = "7" * 4000
BAD_HEADERS = {
    "offset with 5000 digits": (entry(offsets=f"[0, {DIGITS_5000}]"), "4300 digits"),
    "dimension with 5000 digits": (entry(shape=f"[{DIGITS_5000}, 4]"), "4300 digits"),
    "offset with 4000 digits": (entry(offsets=f"[0, {DIGITS_4000}]"), "spans bytes"),
    "dimensions with 4000 digits": (
        entry(shape=f"[{DIGITS_4000}, {DIGITS_4000}]"), "needs more bytes than any file can hold"
    ),
    "huge shape product": (entry(shape="[1099511627776, 1099511627776]"), "needs more bytes"),
    "64 huge dimensions": (entry(shape=json.dumps([2**62] * 64)), "needs more bytes"),
    "65 dimensions": (entry(shape=json.dumps([1] * 65)), "invalid shape"),
    "float offsets": (entry(offsets="[0.0, 64.0]"), "invalid data offsets"),
    "boolean offsets": (entry(offsets="[false, true]"), "invalid data offsets"),
    "NaN offset": (entry(offsets="[0, NaN]"), "invalid data offsets"),
    "string offsets": (entry(offsets='["0", "64"]'), "invalid data offsets"),
    "three offsets": (entry(offsets="[0, 32, 64]"), "invalid data offsets"),
    "offsets not a list": (entry(offsets='{"0": 64}'), "invalid data offsets"),
    "negative offsets": (entry(offsets="[-64, 0]"), "spans bytes -64..0"),
    "reversed offsets": (entry(offsets="[64, 0]"), "spans bytes 64..0"),
    "negative dimension": (entry(shape="[-4, -4]"), "invalid shape"),
    "float dimension": (entry(shape="[4.0, 4]"), "invalid shape"),
    "boolean dimension": (entry(shape="[true, 16]"), "invalid shape"),
    "nested shape": (entry(shape="[[4], 4]"), "invalid shape"),
    "null shape": (entry(shape="null"), "invalid shape"),
    "unknown dtype": (entry(dtype='"Q7"'), "unknown dtype 'Q7'"),
    "numeric dtype": (entry(dtype="7"), "unknown dtype 7"),
    "list dtype": (entry(dtype='["F32"]'), "unknown dtype"),
    "entry not an object": ('{"w": 5}', "entry 'w' is malformed"),
    "entry missing offsets": ('{"w": {"dtype": "F32", "shape": [4, 4]}}', "malformed"),
    "duplicate tensor": (f"{{{GOOD_ENTRY}, {GOOD_ENTRY}}}", "key 'w' appears twice"),
    "duplicate field": (
        '{"w": {"dtype": "F32", "dtype": "F64", "shape": [4, 4], "data_offsets": [0, 64]}}',
        "key 'dtype' appears twice",
    ),
    "deep nesting": ('{"w": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
    "too many lists": (
        '{"w": ' + "[" * (MAX_CONTAINERS + 1) + "}", "JSON objects and lists, over the"
    ),
    "not UTF-8": (b'{"\xff\xfe": 1}', "not UTF-8 text at byte 10"),
    "UTF-16": ('{"w": 1}'.encode("utf-16-le"), "not valid JSON"),
    "lone surrogate": ('{"\\ud800": ' + GOOD_ENTRY[5:] + "}", "not valid Unicode text"),
    "python literal": ("{'w': not json}", "not valid JSON"),
    "trailing garbage": (f"{{{GOOD_ENTRY}}} trailing", "not valid JSON (Extra data"),
    "metadata not an object": (f'{{"__metadata__": 5, {GOOD_ENTRY}}}', "__metadata__"),
    "metadata not strings": (f'{{"__metadata__": {{"a": 1}}, {GOOD_ENTRY}}}', "of strings"),
    "hole before the data": (entry(shape="[2, 2]", offsets="[48, 64]"), "bytes 0..48 unused"),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(BAD_HEADERS))
def test_malformed_header_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    header, problem = BAD_HEADERS[kind]
    path = write_safetensors(tmp_path / "model.safetensors", header, WEIGHT.tobytes())
    line = file_error(capsys, "analyze", path, problem)
    assert len(line) < 300
    assert DIGITS_4000[:100] not in line


@pytest.mark.parametrize(
    ("length", "problem"),
    [(10**6, "exceeds the file size"), (2**64 - 1, "exceeds the file size")],
)
def test_header_length_beyond_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], length: int, problem: str
) -> None:
    path = write_safetensors(tmp_path / "m.safetensors", entry(), WEIGHT.tobytes(), length)
    file_error(capsys, "analyze", path, problem)


def test_header_over_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safetensors_file, "MAX_HEADER", 16)
    path = write_safetensors(tmp_path / "m.safetensors", entry(), WEIGHT.tobytes())
    with pytest.raises(FileError, match="over the 16 allowed"):
        open_checkpoint(path)


def test_more_tensors_than_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safetensors_file, "MAX_TENSORS", 1)
    header = {
        "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [2, 6], "data_offsets": [16, 64]},
    }
    path = write_safetensors(tmp_path / "m.safetensors", json.dumps(header), WEIGHT.tobytes())
    with pytest.raises(FileError, match="lists 2 tensors, over the 1 allowed"):
        open_checkpoint(path)


def test_long_tensor_name_keeps_the_message_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "layer" + "x" * 20_000
    header = json.dumps({name: {"dtype": "F32", "shape": [4], "data_offsets": [0, 64]}})
    path = write_safetensors(tmp_path / "m.safetensors", header, WEIGHT.tobytes())
    line = file_error(capsys, "analyze", path, "'layerxxx", "needs 16 bytes, the header gives 64")
    assert len(line) < 300


@pytest.mark.parametrize("command", ["analyze", "prune", "evaluate"])
def test_every_command_reports_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = write_safetensors(tmp_path / "m.safetensors", entry(offsets="[0, 1e400]"), b"")
    extra = {"prune": ["--rank", "1", "--out", str(tmp_path / "out.pt")]}
    line = error_line(capsys, command, path, *extra.get(command, []))
    assert line.startswith(f"rmt-gui: error: {path}: ")
    assert "invalid data offsets" in line


def test_sixty_four_dimensions_and_empty_tensors_open(tmp_path: Path) -> None:
    header = {
        "w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]},
        "deep": {"dtype": "F32", "shape": [1] * 64, "data_offsets": [64, 68]},
        "empty.a": {"dtype": "F16", "shape": [0, 7], "data_offsets": [68, 68]},
        "empty.b": {"dtype": "I8", "shape": [3, 0], "data_offsets": [68, 68]},
        "__metadata__": {"note": "odd but valid"},
    }
    data = WEIGHT.tobytes() + np.float32(5).tobytes()
    path = write_safetensors(tmp_path / "m.safetensors", json.dumps(header), data)
    checkpoint = open_checkpoint(path)
    assert [info.name for info in checkpoint.layers()] == ["w"]
    np.testing.assert_array_equal(checkpoint.read("w"), WEIGHT)
    assert checkpoint.array("deep").shape == (1,) * 64
    assert checkpoint.array("empty.a").shape == (0, 7)
    assert checkpoint.metadata == {"note": "odd but valid"}


def many_tiny_tensors(path: Path, count: int) -> Path:
    """``count`` 1x2 float32 weights ``t{i}.weight`` holding ``[i, -i]``, plus their biases."""
    header = {}
    for i in range(count):
        start = 12 * i
        header[f"t{i}.weight"] = {
            "dtype": "F32",
            "shape": [1, 2],
            "data_offsets": [start, start + 8],
        }
        header[f"t{i}.bias"] = {
            "dtype": "F32",
            "shape": [1],
            "data_offsets": [start + 8, start + 12],
        }
    values = np.arange(count, dtype=np.float32)
    data = np.stack([values, -values, np.ones(count, np.float32)], axis=1).tobytes()
    write_safetensors(path, json.dumps(header), data)
    return path


@pytest.mark.slow
def test_twenty_thousand_tensors_index_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 20_000
    checkpoint = open_checkpoint(many_tiny_tensors(tmp_path / "many.safetensors", count))
    layers = checkpoint.layers()
    assert [info.name for info in layers[:2]] == ["t0.weight", "t1.weight"]
    assert len(layers) == count
    assert all(info.params == 3 for info in layers)
    calls = []
    listing = checkpoint.layers

    def counted() -> list:
        calls.append(1)
        return listing()

    monkeypatch.setattr(checkpoint, "layers", counted)
    for info in layers:
        assert checkpoint.layer(info.name) is info
    assert len(calls) <= 1, "each lookup must not list every layer again"
    for i in (0, count // 2, count - 1):
        np.testing.assert_array_equal(checkpoint.read(f"t{i}.weight"), [[i, -i]])
    with pytest.raises(FileError, match=r"no layer named 't0\.bias'"):
        checkpoint.layer("t0.bias")


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collector_state_is_restored(tmp_path: Path, enabled: bool) -> None:
    good = write_safetensors(tmp_path / "good.safetensors", entry(), WEIGHT.tobytes())
    bad = write_safetensors(tmp_path / "bad.safetensors", entry(dtype='"Q7"'), WEIGHT.tobytes())
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        SafetensorsCheckpoint(Path(good))
        assert gc.isenabled() is enabled
        with pytest.raises(FileError):
            SafetensorsCheckpoint(Path(bad))
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
