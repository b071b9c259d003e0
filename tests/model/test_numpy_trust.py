"""Hostile ``.npy`` / ``.npz`` files: every one is a one-line FileError, never a crash or a hang.

Each bad file goes through the reader (open, read every layer, build the model) and through the
``analyze``, ``prune`` and ``evaluate`` commands, which must exit 1 with one line naming the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from rmt_gui.cli import main
from rmt_gui.errors import FileError
from rmt_gui.model import memory
from rmt_gui.model.formats import numpy_files
from rmt_gui.model.formats.numpy_files import NpzCheckpoint
from rmt_gui.model.opener import open_checkpoint
from tests.helpers.numpy_files import (
    NPY_MAGIC,
    array_bytes,
    header_text,
    lying_npz,
    npy_bytes,
    patch_entries,
    pickle_payload_npy,
    replace_bytes,
    set_encrypted_flag,
    set_method,
    write_npz,
    zip_bomb,
)

W = np.random.default_rng(0).standard_normal((16, 40)).astype(np.float32)
GOOD = array_bytes(W)
MARKER = "code-was-executed"
BOMB_SHAPE = (2000, 2500)  # 40 MB of float64 zeros, a 40 KB file
CLI_COMMANDS = {
    "analyze": ["analyze"],
    "prune": ["prune", "--bema", "--out", "{tmp}/pruned.pt"],
    "evaluate": ["evaluate", "--data", "{tmp}/no-mnist"],
}


def _garbage_header(text: str) -> Callable[[Path], bytes]:
    """A ``.npy`` whose header is ``text`` verbatim, followed by valid data."""
    return lambda _: npy_bytes(text, W.tobytes())


def _header(descr: object, shape: object, fortran_order: object = False) -> Callable[[Path], bytes]:
    """A ``.npy`` with the given (possibly absurd) header values and 64 bytes of data."""
    return lambda _: npy_bytes(header_text(descr, shape, fortran_order), bytes(64))


def _saved(array: np.ndarray) -> Callable[[Path], bytes]:
    """``np.save`` of ``array``."""
    return lambda _: array_bytes(array)


BAD_NPY: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "unterminated dict": (
        _garbage_header("{'descr': '<f4', 'fortran_order': False, 'shape': (16, 40)"),
        "not a Python dict literal",
    ),
    "call expression": (_garbage_header("__import__('os').system('exit 3')"), "dict literal"),
    "deep nesting": (_garbage_header("(" * 1000 + ")" * 1000), "not a Python dict literal"),
    "5000-digit integer": (
        _garbage_header("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "9" * 5000 + ",)}"),
        "not a Python dict literal",
    ),
    "null byte": (_garbage_header("{'descr': '<f4'\x00}"), "not a Python dict literal"),
    "binary junk": (lambda _: npy_bytes(bytes(range(256))), "not a Python dict literal"),
    "a list": (_garbage_header("[1, 2, 3]"), "header is not a dict"),
    "missing shape": (
        _garbage_header("{'descr': '<f4', 'fortran_order': False}"),
        "exactly the keys descr, fortran_order and shape",
    ),
    "extra key": (
        _garbage_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}"),
        "exactly the keys",
    ),
    "negative shape": (_header("<f4", (-5, 3)), "negative dimension"),
    "float shape": (_header("<f4", (2.5, 3)), "'shape' is not a tuple of integers"),
    "bool shape": (_header("<f4", (True, 3)), "'shape' is not a tuple of integers"),
    "list shape": (_header("<f4", [16, 40]), "'shape' is not a tuple of integers"),
    "70 dimensions": (_header("<f4", (1,) * 70), "has 70 dimensions (at most 64)"),
    "60 dimensions": (_header("<f4", (1,) * 60), "got shape (60 dimensions) of float32"),
    "overflowing shape": (_header("<f8", (2**62, 2**62)), "truncated .npy file"),
    "huge shape": (_header("<f4", (10**30, 10**30)), "but only 64 bytes follow"),
    "string fortran_order": (_header("<f4", (4, 4), "no"), "'fortran_order' is not True"),
    "unknown dtype": (_header("<f3", (4, 4)), "not a known dtype: '<f3'"),
    "numeric descr": (_header(5, (4, 4)), "not a known dtype"),
    "descr with a unit": (_header("<f8[ns]", (4, 4)), "not a known dtype"),
    "dtype expression": (_header("f4,i4", (4, 4)), "not a known dtype"),
    "version 9": (
        lambda _: npy_bytes(header_text("<f4", (16, 40)), W.tobytes(), version=(9, 0)),
        "unknown .npy format version 9.0",
    ),
    "version 1.1": (
        lambda _: npy_bytes(header_text("<f4", (16, 40)), W.tobytes(), version=(1, 1)),
        "unknown .npy format version 1.1",
    ),
    "bad utf-8 in version 3": (
        lambda _: npy_bytes(b"{'descr': '\xff\xfe'}", version=(3, 0)),
        "not valid UTF-8",
    ),
    "header longer than the file": (
        lambda _: NPY_MAGIC + b"\x01\x00" + (5000).to_bytes(2, "little") + b"{'descr'",
        "the file ends inside the .npy header",
    ),
    "header over the limit": (
        lambda _: NPY_MAGIC + b"\x02\x00" + (2**31).to_bytes(4, "little") + bytes(64),
        "larger than the 10000 allowed",
    ),
    "magic only": (lambda _: NPY_MAGIC + b"\x01\x00", "the file ends inside the .npy header"),
    "truncated data": (lambda _: GOOD[: len(GOOD) // 2], "truncated .npy file"),
    "one byte short": (lambda _: GOOD[:-1], "(2560 bytes) but only 2559 bytes follow"),
    "pickled objects": (
        lambda tmp: pickle_payload_npy(tmp / MARKER),
        "holds pickled Python objects, which are never loaded",
    ),
    "structured": (
        _saved(np.zeros((4, 4), dtype=[("a", "<f4"), ("b", "<i4")])),
        "structured array (named fields)",
    ),
    "unicode": (_saved(np.full((4, 4), "text")), "holds text, not numbers"),
    "bytes": (_saved(np.full((4, 4), b"text")), "holds text, not numbers"),
    "complex64": (_saved(W.astype(np.complex64)), "complex weights are not supported"),
    "complex128": (_saved(W.astype(np.complex128)), "complex weights are not supported"),
    "datetime": (_saved(np.zeros((4, 4), "datetime64[ns]")), "holds dates"),
    "timedelta": (_saved(np.zeros((4, 4), "timedelta64[s]")), "holds time spans"),
    "void": (_saved(np.zeros((4, 4), "V8")), "raw bytes"),
    "bool": (_saved(W > 0), "got shape (16, 40) of bool"),
    "empty": (_saved(np.zeros((0, 40), np.float32)), "got shape (0, 40) of float32"),
    "vector": (_saved(W[0]), "got shape (40,) of float32"),
    "scalar": (_saved(np.float32(3)), "got shape () of float32"),
    "float128 nan": (_saved(np.full((3, 3), np.nan, np.longdouble)), "float64 cannot hold"),
    "float128 beyond float64": (
        _saved(np.full((3, 3), np.longdouble(10) ** 400)),
        "float128 values that float64 cannot hold",
    ),
}


def _member(data: bytes, name: str = "w.npy", **options: int) -> Callable[[Path], Path]:
    """An ``.npz`` holding one raw member."""
    return lambda tmp: write_npz(tmp / "bad.npz", [(name, data)], **options)


def _corrupted(data: bytes, start: int, stop: int, method: int) -> Callable[[Path], Path]:
    """An ``.npz`` of one member whose compressed bytes ``start:stop`` are inverted."""

    def build(tmp: Path) -> Path:
        path = write_npz(tmp / "bad.npz", [("w.npy", data)], method)
        raw = bytearray(path.read_bytes())
        body = 30 + len("w.npy")  # local header, then the compressed data
        for i in range(body + start, body + stop):
            raw[i] ^= 0xFF
        path.write_bytes(bytes(raw))
        return path

    return build


def _bad_crc(tmp: Path, data: bytes = GOOD) -> Path:
    """A valid archive whose recorded CRC-32 is off by one bit."""
    path = write_npz(tmp / "bad.npz", [("w.npy", data)])
    crc = zipfile.ZipFile(path).getinfo("w.npy").CRC
    return replace_bytes(path, crc.to_bytes(4, "little"), (crc ^ 1).to_bytes(4, "little"))


def _cut(tmp: Path) -> Path:
    """An archive cut in half."""
    path = write_npz(tmp / "bad.npz", [("w.npy", GOOD), ("v.npy", GOOD)])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _overlapping(tmp: Path) -> Path:
    """Two members where the first claims compressed bytes that hold the second."""
    path = tmp / "bad.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("w.npy", GOOD)
        archive.writestr("v.npy", GOOD)
        archive.filelist[0].compress_size += 100
    return path


NOISE = array_bytes(np.random.default_rng(1).standard_normal((64, 64)))
BAD_NPZ: dict[str, tuple[Callable[[Path], Path], str]] = {
    "duplicate names": (
        lambda tmp: write_npz(tmp / "bad.npz", [("w.npy", GOOD), ("w.npy", GOOD)]),
        "has two members named 'w.npy'",
    ),
    "encrypted": (
        lambda tmp: set_encrypted_flag(write_npz(tmp / "bad.npz", [("w.npy", GOOD)])),
        "member 'w.npy' is encrypted",
    ),
    "unknown compression method": (
        lambda tmp: set_method(write_npz(tmp / "bad.npz", [("w.npy", GOOD)]), 99),
        "uses a compression method that cannot be read",
    ),
    "crc mismatch": (_bad_crc, "member 'w.npy' is corrupt (Bad CRC-32 for file 'w.npy')"),
    "crc mismatch in a large member": (
        lambda tmp: _bad_crc(
            tmp, array_bytes(np.arange(2**18, dtype=np.float64).reshape(512, 512))
        ),
        "layer 'w' is corrupt (Bad CRC-32 for file 'w.npy')",
    ),
    "deflate header broken": (_corrupted(NOISE, 0, 20, zipfile.ZIP_DEFLATED), "is corrupt"),
    "deflate data broken": (_corrupted(NOISE, 3000, 3100, zipfile.ZIP_DEFLATED), "is corrupt"),
    "bzip2 broken": (_corrupted(NOISE, 20, 60, zipfile.ZIP_BZIP2), "is corrupt"),
    "lzma broken": (_corrupted(NOISE, 20, 60, zipfile.ZIP_LZMA), "is corrupt"),
    "cut in half": (_cut, "truncated or corrupt"),
    "overlapping members": (_overlapping, "member 'w.npy' overlaps the next one (a zip bomb)"),
    "text member": (_member(b"hello"), "member 'w.npy' is not a valid .npy array"),
    "garbage header member": (
        _member(npy_bytes("__import__('os').system('exit 3')")),
        "member 'w.npy' is not a valid .npy array: header is not a Python dict literal",
    ),
    "version 9 member": (
        _member(npy_bytes(header_text("<f4", (16, 40)), W.tobytes(), version=(9, 0))),
        "unknown .npy format version 9.0",
    ),
    "header declares terabytes": (
        _member(npy_bytes(header_text("<f8", (2**20, 2**20)))),
        "but its header declares shape (1048576, 1048576) of float64 (8.8 TB)",
    ),
    "header declares overflowing shape": (
        _member(npy_bytes(header_text("<f8", (2**62, 2**62)))),
        "but its header declares shape (4611686018427387904, 4611686018427387904)",
    ),
    "zip entry declares terabytes": (
        _member(GOOD, file_size=2**40),
        "member 'w.npy' holds 1.1 TB but its header declares shape (16, 40) of float32",
    ),
    "zip entry declares too little": (
        _member(GOOD, file_size=200),
        "member 'w.npy' is corrupt (Bad CRC-32",
    ),
    "both declare terabytes": (
        lambda tmp: lying_npz(tmp / "bad.npz", (2**20, 2**20)),
        "needs 8.8 TB, only",
    ),
    "both declare missing data": (
        lambda tmp: lying_npz(tmp / "bad.npz", (300, 400)),
        "layer 'w' is corrupt (the data ends early)",
    ),
    "control characters in a name": (
        _member(GOOD, name="w\x1b[2J\n.npy"),
        "member 'w\\x1b[2J\\n.npy' has control characters in its name",
    ),
    "objects only": (
        lambda tmp: write_npz(tmp / "bad.npz", [("w.npy", pickle_payload_npy(tmp / MARKER))]),
        "no non-empty 2-D numeric arrays in this .npz archive (member 'w.npy': holds pickled",
    ),
    "complex only": (
        _member(array_bytes(W.astype(np.complex64))),
        "(member 'w.npy': complex weights are not supported (dtype <c8))",
    ),
    "vectors only": (_member(array_bytes(W[0])), "no non-empty 2-D numeric arrays"),
    "float128 beyond float64": (
        _member(array_bytes(np.full((3, 3), np.longdouble(10) ** 400))),
        "layer 'w' has float128 values that float64 cannot hold",
    ),
}


@pytest.fixture(params=list(BAD_NPY) + list(BAD_NPZ))
def bad_file(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """One hostile file (written into ``tmp_path``) and a fragment of the error it must give."""
    if request.param in BAD_NPY:
        build, fragment = BAD_NPY[request.param]
        path = tmp_path / "w.npy"
        path.write_bytes(build(tmp_path))
    else:
        builder, fragment = BAD_NPZ[request.param]
        path = builder(tmp_path)
    return path, fragment


def load_everything(path: Path) -> None:
    """Open the file, read every layer and build its model: all that the commands do with it."""
    checkpoint = open_checkpoint(path)
    for info in checkpoint.layers():
        checkpoint.read(info.name)
    checkpoint.build_model()


def test_the_reader_refuses_with_one_line(bad_file: tuple[Path, str]) -> None:
    path, fragment = bad_file
    with pytest.raises(FileError) as error:
        load_everything(path)
    message = str(error.value)
    assert error.value.path == path
    assert fragment in message
    assert "\n" not in message and len(message) < len(str(path)) + 200
    assert not (path.parent / MARKER).exists()


@pytest.mark.parametrize("command", list(CLI_COMMANDS))
def test_each_command_exits_1_with_one_line(
    bad_file: tuple[Path, str], command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, fragment = bad_file
    args = [arg.format(tmp=path.parent) for arg in CLI_COMMANDS[command]]
    assert main([*args, str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"rmt-gui: error: {path}: ")
    assert fragment in err
    assert not (path.parent / MARKER).exists()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m rmt_gui ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "rmt_gui", *args],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def run_main(prelude: str, *args: str) -> subprocess.CompletedProcess:
    """``rmt_gui.cli.main(ARGS)`` in a fresh interpreter that first runs ``prelude``."""
    script = f"{prelude}; import sys; from rmt_gui.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def assert_refused(result: subprocess.CompletedProcess, path: Path, fragment: str) -> None:
    """Exit 1, one stderr line naming ``path`` with ``fragment``, no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"rmt-gui: error: {path}: ")
    assert fragment in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is Linux's")
def test_a_4gb_member_is_refused_under_an_address_space_limit(tmp_path: Path) -> None:
    path = lying_npz(tmp_path / "bomb.npz", (20000, 25000))
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, -1))"
    result = run_main(limit, "analyze", str(path))
    assert_refused(result, path, "layer 'w' needs 4.0 GB, only ")
    assert "of memory is available" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pickled objects", "call expression", "version 9"])
def test_a_fresh_process_refuses_without_running_code(tmp_path: Path, name: str) -> None:
    build, fragment = BAD_NPY[name]
    path = tmp_path / "w.npy"
    path.write_bytes(build(tmp_path))
    assert_refused(run_cli("analyze", str(path)), path, fragment)
    assert not (tmp_path / MARKER).exists()


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 MB of deflated float64 zeros in a 40 KB ``.npz``."""
    return zip_bomb(tmp_path_factory.mktemp("bomb") / "bomb.npz", BOMB_SHAPE)


def low_memory(monkeypatch: pytest.MonkeyPatch, available: int = 10_000_000) -> None:
    """Pretend only ``available`` bytes of memory are free."""
    monkeypatch.setattr(memory, "available_memory", lambda: available)


def test_listing_a_bomb_reads_only_its_header(bomb: Path) -> None:
    assert bomb.stat().st_size < 100_000
    tracemalloc.start()
    try:
        checkpoint = open_checkpoint(bomb)
        layers = checkpoint.layers()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(info.name, info.shape) for info in layers] == [("w", BOMB_SHAPE)]
    assert peak < 2_000_000


def test_a_bomb_larger_than_memory_is_refused_before_inflating(
    bomb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = open_checkpoint(bomb)
    low_memory(monkeypatch)
    tracemalloc.start()
    try:
        with pytest.raises(FileError) as error:
            checkpoint.read("w")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(error.value) == (
        f"{bomb}: layer 'w' needs 40.0 MB, only 10.0 MB of memory is available"
    )
    assert peak < 2_000_000
    with pytest.raises(FileError, match=r"the model needs 40\.0 MB, only 10\.0 MB"):
        checkpoint.build_model()


def test_a_large_bomb_that_fits_is_refused_by_its_ratio(
    bomb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(numpy_files, "RATIO_GRACE", 1_000_000)
    checkpoint = open_checkpoint(bomb)
    with pytest.raises(FileError) as error:
        checkpoint.read("w")
    packed = zipfile.ZipFile(bomb).getinfo("w.npy").compress_size
    assert str(error.value) == (
        f"{bomb}: layer 'w' would inflate {40_000_128 // packed}-fold "
        f"({packed} bytes to 40.0 MB): refused as a zip bomb"
    )


def test_a_bomb_that_fits_reads_as_zeros(bomb: Path) -> None:
    matrix = open_checkpoint(bomb).read("w")
    assert matrix.shape == BOMB_SHAPE and not matrix.any()


@pytest.mark.slow
def test_the_cli_refuses_a_bomb_in_a_fresh_process(bomb: Path) -> None:
    pretend = "from rmt_gui.model import memory; memory.available_memory = lambda: 10_000_000"
    result = run_main(pretend, "analyze", str(bomb))
    assert_refused(result, bomb, "layer 'w' needs 40.0 MB, only 10.0 MB of memory is available")


def test_a_sparse_terabyte_npy_lists_but_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "w.npy"
    header = npy_bytes(header_text("<f4", (2**19, 2**19)))
    path.write_bytes(header)
    try:
        os.truncate(path, len(header) + 4 * 2**38)  # a hole: no disk is used
    except OSError:
        pytest.skip("this file system has no sparse files")
    checkpoint = open_checkpoint(path)
    assert checkpoint.layers()[0].shape == (2**19, 2**19)
    with pytest.raises(FileError, match=r"layer 'w' needs 1\.1 TB, only .* of memory is available"):
        checkpoint.read("w")


def test_a_corrupt_member_still_lists_and_fails_only_when_read(tmp_path: Path) -> None:
    path = _corrupted(NOISE, 3000, 3100, zipfile.ZIP_DEFLATED)(tmp_path)
    checkpoint = open_checkpoint(path)
    assert [info.shape for info in checkpoint.layers()] == [(64, 64)]
    with pytest.raises(FileError, match="layer 'w' is corrupt"):
        checkpoint.read("w")


def test_skipped_members_are_never_read(tmp_path: Path) -> None:
    members = [("w.npy", GOOD), ("pickle.npy", pickle_payload_npy(tmp_path / MARKER))]
    members += [("text.npy", array_bytes(np.full((4, 4), "x"))), ("v.npy", array_bytes(W[0]))]
    checkpoint = open_checkpoint(write_npz(tmp_path / "mixed.npz", members))
    assert checkpoint.detail == "1 2-D arrays, 3 other arrays skipped"
    np.testing.assert_array_equal(checkpoint.read("w"), W)
    assert list(checkpoint.build_model().state_dict()) == ["w", "v"]
    assert not (tmp_path / MARKER).exists()


@pytest.mark.parametrize("name", ["w.txt", "folder/"])
def test_members_that_are_not_npy_are_refused(tmp_path: Path, name: str) -> None:
    path = write_npz(tmp_path / "mixed.npz", [("w.npy", GOOD), (name, b"")])
    with pytest.raises(FileError, match=rf"member '{name}' is not a \.npy array"):
        NpzCheckpoint(path)


def test_non_ascii_names_list_and_read(tmp_path: Path) -> None:
    path = tmp_path / "names.npz"
    np.savez(path, **{"σ.weight": W, "couche_é.weight": W.T, "σ.bias": W[:, 0]})
    checkpoint = open_checkpoint(path)
    assert [info.name for info in checkpoint.layers()] == ["σ.weight", "couche_é.weight"]
    assert checkpoint.layer("σ.weight").params == W.size + 16
    np.testing.assert_array_equal(checkpoint.read("couche_é.weight"), W.T)


def test_legacy_cp437_names_are_not_taken_for_overlaps(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "legacy.npz", [("é.npy", GOOD), ("ü.npy", GOOD)])
    patch_entries(path, 6, 8, b"\x00\x00")  # clear the UTF-8 flag: names read as cp437
    checkpoint = open_checkpoint(path)
    assert [info.name for info in checkpoint.layers()] == ["├⌐", "├╝"]
    np.testing.assert_array_equal(checkpoint.read("├╝"), W)


def test_an_empty_archive_has_no_layers(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="no non-empty 2-D numeric arrays"):
        NpzCheckpoint(write_npz(tmp_path / "empty.npz", []))


def test_too_many_members_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numpy_files, "MAX_MEMBERS", 3)
    path = write_npz(tmp_path / "many.npz", [(f"a{i}.npy", GOOD) for i in range(4)])
    with pytest.raises(FileError, match="has 4 members, more than the 3 allowed"):
        NpzCheckpoint(path)


def singular_values(matrix: np.ndarray) -> np.ndarray:
    """Singular values in float64."""
    return np.linalg.svd(np.asarray(matrix, np.float64), compute_uv=False)


def saved_both_ways(tmp_path: Path, array: np.ndarray) -> list[Path]:
    """``array`` as ``w.npy`` and as member ``w`` of ``w.npz``."""
    npy, npz = tmp_path / "w.npy", tmp_path / "w.npz"
    np.save(npy, array)
    np.savez(npz, w=array)
    return [npy, npz]


@pytest.mark.parametrize("dtype", [">f4", ">f8", ">f2", ">i4", ">u2"])
@pytest.mark.parametrize("fortran", [False, True])
def test_big_endian_arrays_read_as_native_with_the_same_spectrum(
    tmp_path: Path, dtype: str, fortran: bool
) -> None:
    stored = (W * 10).astype(dtype)
    stored = np.asfortranarray(stored) if fortran else stored
    native = stored.astype(stored.dtype.newbyteorder("="))
    for path in saved_both_ways(tmp_path, stored):
        checkpoint = open_checkpoint(path)
        matrix = checkpoint.read("w")
        assert matrix.dtype.isnative
        np.testing.assert_array_equal(matrix, native)
        np.testing.assert_allclose(singular_values(matrix), singular_values(native), rtol=1e-12)
        tensor = checkpoint.build_model().state_dict()["w"]
        np.testing.assert_array_equal(tensor.numpy(), native)


def analysis_json(path: Path, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    """The ``layers`` of ``rmt-gui analyze --json PATH``."""
    assert main(["analyze", "--json", str(path)]) == 0
    return json.loads(capsys.readouterr().out)["layers"]


def test_big_endian_analysis_equals_native(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weight = np.random.default_rng(2).standard_normal((60, 90))
    native, swapped = tmp_path / "native", tmp_path / "swapped"
    native.mkdir()
    swapped.mkdir()
    np.savez(native / "m.npz", w=weight)
    np.savez(swapped / "m.npz", w=weight.astype(">f8"))
    assert analysis_json(swapped / "m.npz", capsys) == analysis_json(native / "m.npz", capsys)


def test_float128_is_narrowed_to_float64(tmp_path: Path) -> None:
    stored = W.astype(np.longdouble)
    for path in saved_both_ways(tmp_path, stored):
        checkpoint = open_checkpoint(path)
        matrix = checkpoint.read("w")
        assert matrix.dtype == np.float64
        np.testing.assert_array_equal(matrix, W.astype(np.float64))
        assert checkpoint.build_model().state_dict()["w"].dtype == torch.float64


def test_float16_is_widened_to_float32(tmp_path: Path) -> None:
    for path in saved_both_ways(tmp_path, W.astype(np.float16)):
        matrix = open_checkpoint(path).read("w")
        assert matrix.dtype == np.float32
        np.testing.assert_array_equal(matrix, W.astype(np.float16).astype(np.float32))


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint8, np.uint64])
def test_integer_layers_are_analysed_but_not_pruned(
    tmp_path: Path, dtype: type, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = np.random.default_rng(3).integers(0, 100, (30, 50)).astype(dtype)
    stored[0, 0] = np.iinfo(dtype).max
    for path in saved_both_ways(tmp_path, stored):
        (row,) = analysis_json(path, capsys)
        assert row["shape"] == [30, 50]
        np.testing.assert_allclose(row["sv_max"], singular_values(stored)[0], rtol=1e-9)
        for command in ("prune", "evaluate"):
            args = [arg.format(tmp=tmp_path) for arg in CLI_COMMANDS[command]]
            assert main([*args, str(path)]) == 1
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith(f"rmt-gui: error: {path}: ")
