"""Serial check, with the pip h5py (its own bundled libhdf5, not Debian's parallel one), of files
written in parallel by mpi_filter.c or h5py_mpi_write.py.

For every filtered dataset in FILE.h5 (known names below, each with the bound it was written
with): the pipeline holds filter 47815 with the expected cd_values; every chunk is stored with
filter mask 0 and the chunks together are smaller than the raw data; the decoded values are
within the bound of the unfiltered reference dataset orig_u16 / orig_f32 written in the same
run (bit-exact in lossless mode); and each stored chunk is byte-identical to the chunk a serial
h5py write of the same data produces (the encoder depends only on the chunk's contents, not on
how many ranks wrote it).

Usage: HDF5_PLUGIN_PATH=... .venv/bin/python check_serial.py FILE.h5 [FILE.h5 ...]
Prints one PASS/FAIL line per dataset; exit status 1 on any failure.
"""
import os
import sys
import tempfile

import h5py
import numpy as np

FILTER_ID = 47815
# name: (reference dataset, cd_values given at write time, bound; 0 = bit-exact)
KNOWN = {
    "u16_abs4": ("orig_u16", (1, 4, 0), 4.0),
    "u16_lossless": ("orig_u16", (0,), 0.0),
    "f32_abs": ("orig_f32", (1, 5, 3), 0.005),
    "f32_lossless": ("orig_f32", (0,), 0.0),
}


def check_file(path, scratch):
    fails = 0
    with h5py.File(path, "r") as f:
        names = [n for n in KNOWN if n in f]
        if not names:
            print(f"FAIL {path}: none of the datasets {sorted(KNOWN)} is present")
            return 1
        for name in names:
            ref_name, cd, bound = KNOWN[name]
            d, ref = f[name], f[ref_name][...]
            problems = []
            fid, _, stored_cd, fname = d.id.get_create_plist().get_filter(0)
            if fid != FILTER_ID or tuple(stored_cd[: len(cd)]) != cd:
                problems.append(f"filter {fid} cd_values {stored_cd}, expected {FILTER_ID} {cd}")
            infos = [d.id.get_chunk_info(i) for i in range(d.id.get_num_chunks())]
            stored = sum(i.size for i in infos)
            expect_chunks = int(np.prod([-(-n // c) for n, c in zip(d.shape, d.chunks)]))
            if len(infos) != expect_chunks:
                problems.append(f"{len(infos)} chunks stored, {expect_chunks} expected")
            if any(i.filter_mask != 0 for i in infos):
                problems.append("a chunk is stored with the filter skipped (filter_mask != 0)")
            if not 0 < stored < ref.nbytes:
                problems.append(f"chunks hold {stored} bytes, raw data {ref.nbytes}")
            back = d[...]
            if bound == 0:
                nbad = int(np.count_nonzero(back.view(np.uint8) != ref.view(np.uint8)))
                err = 0.0
            else:
                e = np.abs(back.astype(np.float64) - ref.astype(np.float64))
                nbad, err = int(np.count_nonzero(~(e <= bound))), float(e.max())
            if nbad:
                problems.append(f"{nbad} of {back.size} elements out of bound {bound}")

            # The same data written serially by this h5py gives the same chunk bytes.
            tmp = os.path.join(scratch, f"serial_{name}.h5")
            with h5py.File(tmp, "w") as g:
                s = g.create_dataset(name, data=ref, chunks=d.chunks, compression=FILTER_ID,
                                     compression_opts=cd)
                differ = 0
                for i in infos:
                    _, a = d.id.read_direct_chunk(i.chunk_offset)
                    _, b = s.id.read_direct_chunk(i.chunk_offset)
                    differ += a != b
            if differ:
                problems.append(f"{differ} of {len(infos)} chunks differ from a serial write")
            print(f"{'FAIL' if problems else 'PASS'} serial pip h5py {h5py.__version__} "
                  f"(HDF5 {h5py.version.hdf5_version}) {os.path.basename(path)}:{name}: "
                  f"{len(infos)} chunks, {ref.nbytes} -> {stored} bytes, max |x-x'| = {err:g} "
                  f"(bound {bound:g}), chunks identical to a serial write: {differ == 0}"
                  + "".join(f"\n     - {p}" for p in problems))
            fails += bool(problems)
    return fails


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    if not h5py.h5z.filter_avail(FILTER_ID):
        print(f"FAIL filter {FILTER_ID} not available (HDF5_PLUGIN_PATH="
              f"{os.environ.get('HDF5_PLUGIN_PATH')})")
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        fails = sum(check_file(p, scratch) for p in sys.argv[1:])
    print(f"check_serial: {'OK' if fails == 0 else f'FAILED ({fails} datasets)'}")
    return 0 if fails == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
