"""Cross-host checks: files written by h5py (pip wheel, HDF5 2.x) read by Debian's
h5repack/h5dump/h5diff (HDF5 1.10.x) and the other way round, all through HDF5_PLUGIN_PATH."""
import h5py
import numpy as np
from conftest import FILTER_ID, ct_head_crop, need_tool, real_or_synthetic, run


def test_h5repack_compresses_what_h5py_wrote_and_h5py_reads_it(tmp_path):
    h5repack, h5dump, h5diff = need_tool("h5repack"), need_tool("h5dump"), need_tool("h5diff")
    vol = np.asarray(real_or_synthetic("ct_headsq_vtk/headsq_quarter_uint16.npy", (93, 64, 64)))
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f.create_dataset("head", data=vol)  # contiguous, no filter
    packed = tmp_path / "packed.h5"
    run([h5repack, "-f", "UD=47815,0,3,1,4,0", "-l", "CHUNK=16x64x64", plain, packed])
    dump = run([h5dump, "-p", "-H", packed]).stdout
    assert "FILTER_ID 47815" in dump and "COMMENT apr (h5z-apr " in dump
    # 93 slices in chunks of 16: the last chunk is partial.
    assert "PARAMS { 1 4 0 3 1095782913 0 2 0 0 3 16 64 64 }" in dump, dump
    assert run([h5diff, "-d", "4", plain, packed], check=False).returncode == 0
    assert run([h5diff, "-d", "0.5", plain, packed], check=False).returncode == 1
    with h5py.File(packed, "r") as f:
        d = f["head"]
        back = d[...]
        assert d.chunks == (16, 64, 64)
        assert d.id.get_storage_size() < vol.nbytes / 2
        assert all(d.id.get_chunk_info(i).filter_mask == 0 for i in range(d.id.get_num_chunks()))
    err = np.abs(back.astype(np.int64) - vol.astype(np.int64)).max()
    assert 0 < err <= 4


def test_h5repack_and_h5diff_read_what_h5py_compressed(tmp_path):
    h5repack, h5dump, h5diff = need_tool("h5repack"), need_tool("h5dump"), need_tool("h5diff")
    a = ct_head_crop()
    src = tmp_path / "h5py.h5"
    with h5py.File(src, "w") as f:
        f.create_dataset("ct", data=a, chunks=(8, 64, 64), compression=FILTER_ID, compression_opts=(1, 4, 0))
        f.create_dataset("exact", data=a[:4], chunks=(4, 50, 50), compression=FILTER_ID, compression_opts=(0,))
        decoded = f["ct"][...]
    dump = run([h5dump, "-p", "-H", src]).stdout
    assert dump.count("FILTER_ID 47815") == 2
    # h5repack (HDF5 1.10) decodes the h5py (HDF5 2.x) chunks and writes them unfiltered.
    plain = tmp_path / "plain.h5"
    run([h5repack, "-f", "NONE", src, plain])
    assert "47815" not in run([h5dump, "-p", "-H", plain]).stdout
    with h5py.File(plain, "r") as f:
        assert np.array_equal(f["ct"][...], decoded)  # both hosts decode identically
        assert np.array_equal(f["exact"][...], a[:4])
    # h5diff reads the compressed file through the plugin: within 4 of the original.
    orig = tmp_path / "orig.h5"
    with h5py.File(orig, "w") as f:
        f.create_dataset("ct", data=a)
    assert run([h5diff, "-d", "4", orig, src, "/ct", "/ct"], check=False).returncode == 0


def test_h5dump_reports_a_corrupted_chunk_and_exits_cleanly(tmp_path):
    h5dump = need_tool("h5dump")
    a = ct_head_crop()[:8, :64, :64]
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", data=a, chunks=(8, 32, 32), compression=FILTER_ID, compression_opts=(0,))
        info = d.id.get_chunk_info(2)
    raw = bytearray(path.read_bytes())
    for i in range(info.byte_offset + 40, info.byte_offset + 56):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))
    r = run([h5dump, "--enable-error-stack", "-d", "/x", path], check=False)
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])  # an error, not a crash (signal)
    assert "h5z-apr: cannot decode chunk" in r.stderr, r.stderr[-3000:]


def _forged_apr_stream(dtype_code, shape, total_len):
    """A stream whose header claims an apr chunk of `shape` (FORMAT.md §2.1), body of junk,
    valid CRC-32 (issue 12's attack)."""
    import struct
    import zlib

    s = bytearray(b"APRZ" + bytes([1, dtype_code, 2, len(shape)]) + struct.pack("<d", 0.1))
    for d in shape:
        s += struct.pack("<I", d)
    s.append(3)  # method apr
    while len(s) < total_len - 4:
        s.append(len(s) * 131 % 251)
    return bytes(s) + struct.pack("<I", zlib.crc32(bytes(s)))


def test_h5dump_refuses_a_forged_chunk_of_another_shape_before_allocating(tmp_path):
    # The chunk of an int32 dataset with chunks (4, 32, 24) replaced by a 5,466-byte stream
    # (valid CRC) claiming (4, 1048600, 24) = 402,662,400 bytes: the plugin compares the header
    # with the dataset's stored chunk and refuses it with a message naming both.
    import json
    import sys

    h5dump = need_tool("h5dump")
    path = tmp_path / "forged.h5"
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", shape=(4, 32, 24), dtype="i4", chunks=(4, 32, 24),
                             compression=FILTER_ID, compression_opts=(2,))
        d[...] = np.arange(4 * 32 * 24, dtype="i4").reshape(4, 32, 24)
        d.id.write_direct_chunk((0, 0, 0), _forged_apr_stream(6, (4, 1048600, 24), 5466))
    # h5dump in a fresh process whose only child it is, for its peak RSS.
    probe = (
        "import json, resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(json.dumps([r.returncode, r.stderr, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))\n"
    )
    r = run([sys.executable, "-c", probe, h5dump, "--enable-error-stack", "-d", "/x", str(path)])
    rc, err, maxrss_kb = json.loads(r.stdout)
    assert rc == 1, (rc, err[-2000:])
    assert "h5z-apr: cannot decode chunk" in err, err[-3000:]
    assert "[4, 1048600, 24]" in err and "the dataset's chunk is int32 [4, 32, 24]" in err, err[-3000:]
    assert maxrss_kb < 200 * 1024, f"h5dump peaked at {maxrss_kb} KiB"
