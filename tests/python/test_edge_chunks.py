"""Partial edge chunks through h5py (issue 9): a dataset whose shape is not a multiple of the
chunk shape costs at most 5% of ratio against the codec on the same data (each chunk cut to
the dataset, coded through the C API), in lossless, abs 4 and apr E=0.1. HDF5 pads edge chunks
with the fill value; format version 2 codes only the box that is not padding (FORMAT.md §4.5)."""
import numpy as np
import pytest
from conftest import DATA, FILTER_ID
from test_reference import lib, rust_compress  # noqa: F401  (lib is a pytest fixture)

h5py = pytest.importorskip("h5py")

MODES = [("lossless", (0,), 0, 0.0), ("abs 4", (1, 4, 0), 1, 4.0), ("apr 0.1", (2, 1, 1), 2, 0.1)]


def synthetic(shape, seed=3):
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    v = 300 + 2500 * np.exp(-((x - 70.0) ** 2 + (y - 90.0) ** 2) / 900 - (z - 8.0) ** 2 / 30) + rng.normal(0, 3, shape)
    return v.astype(np.uint16)


def cases():
    out = [("synthetic padded in z, y and x", synthetic((20, 200, 150)), (16, 128, 128))]
    bead = DATA / "lls_bead_psf_pycudadecon" / "psf_uint16.npy"
    if bead.exists():
        out.append(("lls_bead_psf 61 slices, chunks of 16", np.load(bead), (16, 128, 128)))
    else:
        print(f"!!!!! {bead} absent: only the synthetic edge-chunk case runs !!!!!")
    return out


@pytest.mark.parametrize("name,a,chunks", cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_padded_edge_chunks_cost_at_most_5_percent(lib, tmp_path, name, a, chunks):  # noqa: F811
    assert any(n % c for n, c in zip(a.shape, chunks)), "the case must have partial edge chunks"
    for label, opts, mode, value in MODES:
        codec = 0
        for z0 in range(0, a.shape[0], chunks[0]):
            for y0 in range(0, a.shape[1], chunks[1]):
                for x0 in range(0, a.shape[2], chunks[2]):
                    c = a[z0 : z0 + chunks[0], y0 : y0 + chunks[1], x0 : x0 + chunks[2]]
                    codec += len(rust_compress(lib, c, mode, value))
        path = tmp_path / "edge.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=a, chunks=chunks, compression=FILTER_ID, compression_opts=opts)
        with h5py.File(path, "r") as f:
            stored = f["x"].id.get_storage_size()
            back = f["x"][...]
        if mode == 0:
            assert (back == a).all()
        r_codec, r_h5 = a.nbytes / codec, a.nbytes / stored
        print(f"{name} {label}: codec {r_codec:.2f}x, through HDF5 {r_h5:.2f}x")
        assert r_h5 >= 0.95 * r_codec, f"{name} {label}: through HDF5 {r_h5:.2f}x vs codec {r_codec:.2f}x"
