"""The reference decoder's method 6 (FORMAT.md §5, python/h5z_apr/reference.py decode_method6)
against the Rust one: the golden method-6 bodies tests/golden/v2_m6_*.apr (CRC-32 of the decoded
elements in tests/golden/v2_m6.manifest), and Rust-made bodies of synthetic data (every dtype,
odd shapes, lossless and abs) and crops of every shared-data volume, written together with the
Rust decoder's output by the example `m6_dump` (built by `cargo test --release`). Also: the
reference must reject truncated bodies and trailing bytes, like the Rust decoder.

Until the v2 container lands there is no C-API path to a method-6 tile, hence the example.
"""
import importlib.util
import subprocess
import sys
import zlib

import numpy as np
import pytest
from conftest import REPO, missing

_spec = importlib.util.spec_from_file_location("h5z_apr_reference_m6", REPO / "python" / "h5z_apr" / "reference.py")
reference = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = reference
_spec.loader.exec_module(reference)

GOLDEN = REPO / "tests" / "golden"
DUMP = REPO / "target" / "release" / "examples" / "m6_dump"


def _manifest():
    rows = []
    for line in (GOLDEN / "v2_m6.manifest").read_text().splitlines():
        if line.strip():
            name, dt, z, x, y, k, crc = line.split()
            rows.append((name, int(dt), (int(z), int(x), int(y)), int(k), int(crc, 16)))
    return rows


@pytest.mark.parametrize("row", _manifest(), ids=lambda r: r[0])
def test_golden_m6(row):
    name, dt, shape, _k, crc = row
    body = (GOLDEN / f"v2_m6_{name}.apr").read_bytes()
    assert body[0] == 6
    arr = reference.decode_method6(body[1:], dt, shape)
    assert zlib.crc32(arr.tobytes()) == crc


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    if not DUMP.exists():
        missing(f"{DUMP} (built by cargo test --release / cargo build --release --examples)")
    d = tmp_path_factory.mktemp("m6")
    subprocess.run([str(DUMP), str(d)], check=True)
    rows = []
    for line in (d / "index.txt").read_text().splitlines():
        name, dt, z, x, y, k = line.split()
        rows.append((d, name, int(dt), (int(z), int(x), int(y)), int(k)))
    assert len(rows) > 500
    return rows


def test_rust_bodies_decode_bit_exactly(dump):
    real = 0
    for d, name, dt, shape, k in dump:
        body = (d / f"{name}.m6").read_bytes()
        want = (d / f"{name}.out").read_bytes()
        got = reference.decode_method6(body[1:], dt, shape).tobytes()
        assert got == want, name
        if k == 0:
            assert got == (d / f"{name}.in").read_bytes(), name
        real += name.startswith("real_")
    print(f"{len(dump)} bodies, {real} from shared-data crops")


def test_damaged_bodies_are_rejected(dump):
    picked = [r for r in dump if r[3] == (5, 12, 23) and r[1].endswith("_a300_k0")][:4]
    assert picked
    for d, name, dt, shape, _k in picked:
        body = (d / f"{name}.m6").read_bytes()[1:]
        for cut in range(0, len(body), max(1, len(body) // 40)):
            with pytest.raises(ValueError):
                reference.decode_method6(body[:cut], dt, shape)
        with pytest.raises(ValueError):
            reference.decode_method6(body + b"\0", dt, shape)
