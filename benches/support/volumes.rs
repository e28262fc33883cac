//! The README table's volumes and their (16,256,256) chunks, shared by the benches that
//! compare codecs on them (`#[path]`-included, with `npy` in scope).

use super::npy;
use h5z_apr::codec::DType;
use std::path::Path;

pub struct Vol {
    pub name: &'static str,
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

fn crop_center(a: npy::NpyArray, ny: usize, nx: usize) -> npy::NpyArray {
    let (z, y, x) = (a.shape[0], a.shape[1], a.shape[2]);
    if y <= ny && x <= nx {
        return a;
    }
    let (y0, x0) = ((y - ny) / 2, (x - nx) / 2);
    let s = a.dtype.size();
    let mut out = Vec::with_capacity(z * ny * nx * s);
    for k in 0..z {
        for j in y0..y0 + ny {
            let off = ((k * y + j) * x + x0) * s;
            out.extend_from_slice(&a.data[off..off + nx * s]);
        }
    }
    npy::NpyArray {
        dtype: a.dtype,
        shape: vec![z, ny, nx],
        data: out,
    }
}

pub fn load(root: &Path) -> Vec<Vol> {
    let list: &[(&str, &str, bool)] = &[
        (
            "lls_bead_psf",
            "lls_bead_psf_pycudadecon/psf_uint16.npy",
            false,
        ),
        (
            "fluo_confocal_nuclei",
            "fluo_confocal_nuclei_cells3d/nuclei_uint16.npy",
            false,
        ),
        (
            "ct_head_ge_crop256",
            "ct_head_ge/ct_head_ge_uint16.npy",
            true,
        ),
        (
            "ct_headsq_vtk",
            "ct_headsq_vtk/headsq_quarter_uint16.npy",
            false,
        ),
        (
            "fluo_2d_timelapse_u8",
            "fluo_2d_timelapse_ctc/timelapse_uint8.npy",
            false,
        ),
        (
            "cryoet_tomogram_f32",
            "cryoet_tomogram_hiv/tomo_float32.npy",
            false,
        ),
        (
            "stardist_3d",
            "fluo_nuclei_stardist/img3d_uint16.npy",
            false,
        ),
    ];
    let mut v = Vec::new();
    for &(name, rel, crop) in list {
        let p = root.join(rel);
        match npy::read(&p) {
            Ok(mut a) => {
                if crop {
                    a = crop_center(a, 256, 256);
                }
                v.push(Vol {
                    name,
                    dtype: a.dtype,
                    shape: a.shape,
                    data: a.data,
                });
            }
            Err(e) => eprintln!("SKIP {name}: {e}"),
        }
    }
    v
}

/// Splits a 3-D volume into chunks of (16,256,256) clipped to the volume.
pub fn chunks(v: &Vol) -> Vec<(Vec<usize>, Vec<u8>)> {
    let (z, y, x) = (v.shape[0], v.shape[1], v.shape[2]);
    let (cz, cy, cx) = (16.min(z), 256.min(y), 256.min(x));
    let s = v.dtype.size();
    let mut out = Vec::new();
    for z0 in (0..z).step_by(cz) {
        for y0 in (0..y).step_by(cy) {
            for x0 in (0..x).step_by(cx) {
                let (dz, dy, dx) = ((z - z0).min(cz), (y - y0).min(cy), (x - x0).min(cx));
                let mut buf = Vec::with_capacity(dz * dy * dx * s);
                for k in z0..z0 + dz {
                    for j in y0..y0 + dy {
                        let off = ((k * y + j) * x + x0) * s;
                        buf.extend_from_slice(&v.data[off..off + dx * s]);
                    }
                }
                out.push((vec![dz, dy, dx], buf));
            }
        }
    }
    out
}
