//! `h5z-apr eval`: compresses the dataset chunk by chunk exactly as the HDF5 filter would
//! (full-size chunks, edge chunks zero-padded like HDF5's default fill value), decodes it
//! back, and measures size, speed, quality and downstream observables.

use crate::args::Setting;
use crate::input::Input;
use crate::metrics::{self, ErrorStats, Segmentation, SliceSsim, Summary};
use crate::progress::Progress;
use h5z_apr::{codec, DType};
use std::time::Instant;

/// The original data, analysed once and compared against every setting.
pub struct Reference {
    pub values: Vec<f64>,
    pub shape3: [usize; 3],
    pub summary: Summary,
    /// Range used for PSNR and SSIM (max - min of the original; 1 if constant).
    pub data_range: f64,
    pub noise_sigma: f64,
    pub noise_estimator: &'static str,
    sorted: Vec<f64>,
    pub seg: Option<Segmentation>,
    /// Smallest component counted as an object.
    pub min_object_voxels: usize,
}

impl Reference {
    pub fn new(input: &Input, downstream: bool, min_object_voxels: usize) -> Reference {
        let values = metrics::to_f64(input.dtype, &input.data);
        let shape3 = metrics::shape3(&input.shape);
        let summary = metrics::summary(&values);
        let range = summary.max - summary.min;
        let data_range = if range > 0.0 && range.is_finite() {
            range
        } else {
            1.0
        };
        let as_f32: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        let noise_sigma = ndarray::ArrayView3::from_shape(shape3, &as_f32)
            .map(|v| codec::apr::estimate_noise_sigma(v) as f64)
            .unwrap_or(0.0);
        drop(as_f32);
        let (sorted, seg) = if downstream {
            let mut s = values.clone();
            s.sort_unstable_by(f64::total_cmp);
            (
                s,
                Some(metrics::segment(&values, shape3, min_object_voxels)),
            )
        } else {
            (Vec::new(), None)
        };
        Reference {
            values,
            shape3,
            summary,
            data_range,
            noise_sigma,
            noise_estimator:
                "Immerkaer operator, robust median, finest and 2x-binned scale (codec::apr::estimate_noise_sigma)",
            sorted,
            seg,
            min_object_voxels,
        }
    }
}

impl Reference {
    /// Index of the central 2-D slice (leading axes folded into z) and its [height, width].
    pub fn central_z(&self) -> usize {
        self.shape3[0] / 2
    }
    /// The original's central 2-D slice, row-major `[height][width]`.
    pub fn central_slice(&self) -> &[f64] {
        slice_of(&self.values, self.shape3, self.central_z())
    }
}

/// Slice `z` of a `[z, y, x]` volume.
fn slice_of(v: &[f64], shape3: [usize; 3], z: usize) -> &[f64] {
    let n = shape3[1] * shape3[2];
    v.get(z * n..(z + 1) * n).unwrap_or(&[])
}

/// Segmentation-based comparison of the original and the reconstruction.
#[derive(Debug, Clone, PartialEq)]
pub struct Downstream {
    pub threshold_orig: f64,
    pub threshold_recon: f64,
    pub dice: f64,
    pub objects_orig: usize,
    pub objects_recon: usize,
    pub foreground_orig: usize,
    pub foreground_recon: usize,
    /// 1-Wasserstein distance between the intensity histograms, intensity units.
    pub hist_w1: f64,
}

impl Downstream {
    /// Relative change of the foreground volume, percent (0 when both are empty).
    pub fn foreground_change_pct(&self) -> f64 {
        if self.foreground_orig == 0 {
            if self.foreground_recon == 0 {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            100.0 * (self.foreground_recon as f64 - self.foreground_orig as f64)
                / self.foreground_orig as f64
        }
    }
    pub fn object_change(&self) -> i64 {
        self.objects_recon as i64 - self.objects_orig as i64
    }
}

/// The pointwise APR condition |I - I'| <= E * sigma_local(x) over the array's pixels, with
/// sigma_local as the encoder computes it per tile (`codec::local_scale_for`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LisStats {
    pub rel_error: f64,
    /// max over pixels of |I - I'| / sigma_local(x).
    pub max_err_over_sigma: f64,
    /// Pixels with |I - I'| > E * sigma_local(x).
    pub violations: u64,
    pub pixels: u64,
}

impl LisStats {
    pub fn violation_fraction(&self) -> f64 {
        self.violations as f64 / self.pixels.max(1) as f64
    }
    /// Adds the pixels `idx` of one chunk (original `orig`, reconstruction `recon`, scale `sig`).
    fn add(&mut self, orig: &[f64], recon: &[f64], sig: &[f32], idx: std::ops::Range<usize>) {
        for i in idx {
            let d = (orig[i] - recon[i]).abs();
            let s = sig[i] as f64;
            let r = if d == 0.0 { 0.0 } else { d / s };
            self.max_err_over_sigma = self.max_err_over_sigma.max(r);
            if d > self.rel_error * s {
                self.violations += 1;
            }
            self.pixels += 1;
        }
    }
}

/// Noise mode's promise |I - I'| <= k * sigma(I(x)) over the array's elements, with
/// sigma(I)^2 = max(c, a*I + b) and (a, b, c) the model the encoder fits on each tile: eval refits it
/// with `codec::noise_bound_for` on the same tiles, the deterministic fit whose f32 (a, b, c) the
/// encoder stores in every method-7 tile body (FORMAT.md §6.2, §6.4). Elements the encoder stores
/// exactly (constant tiles, outside the coded box) have sigma = +inf here (ratio 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseStats {
    pub k: f64,
    /// max over elements of |I - I'| / sigma(I(x)) (0 where the error is 0; +inf where the
    /// model gives sigma 0 and the error is not 0).
    pub max_err_over_sigma: f64,
    /// sum of (|I - I'| / sigma(I(x)))^2 over the elements with a finite, positive sigma.
    sum_sq_ratio: f64,
    /// Elements with a finite, positive sigma.
    modelled: u64,
    /// Smallest finite sigma(I(x)) over the elements (+inf when every element is exact): abs
    /// mode needs the bound floor(k * sigma_min) to promise |I - I'| <= k * sigma(I) everywhere.
    pub sigma_min: f64,
    /// Elements with |I - I'| > k * sigma(I(x)).
    pub violations: u64,
    pub pixels: u64,
    /// Non-constant tiles and the range of their fitted (a, b).
    pub tiles: u64,
    pub a_min: f64,
    pub a_max: f64,
    pub b_min: f64,
    pub b_max: f64,
    /// Range of the fitted variance floors c (format version 5; sigma^2 = max(c, a*I + b)).
    pub c_min: f64,
    pub c_max: f64,
}

impl NoiseStats {
    fn new(k: f64) -> NoiseStats {
        NoiseStats {
            k,
            max_err_over_sigma: 0.0,
            sum_sq_ratio: 0.0,
            modelled: 0,
            sigma_min: f64::INFINITY,
            violations: 0,
            pixels: 0,
            tiles: 0,
            a_min: f64::INFINITY,
            a_max: f64::NEG_INFINITY,
            b_min: f64::INFINITY,
            b_max: f64::NEG_INFINITY,
            c_min: f64::INFINITY,
            c_max: f64::NEG_INFINITY,
        }
    }
    pub fn violation_fraction(&self) -> f64 {
        self.violations as f64 / self.pixels.max(1) as f64
    }
    /// RMS over elements of |I - I'| / sigma(I(x)) (elements with 0 < sigma < inf), or `None`
    /// when no element has one.
    pub fn rms_err_over_sigma(&self) -> Option<f64> {
        (self.modelled > 0).then(|| (self.sum_sq_ratio / self.modelled as f64).sqrt())
    }
    #[allow(clippy::type_complexity)]
    fn add_models(&mut self, models: &[([usize; 3], [usize; 3], f32, f32, f32)]) {
        for &(_, _, a, b, c) in models {
            self.c_min = self.c_min.min(c as f64);
            self.c_max = self.c_max.max(c as f64);
            self.tiles += 1;
            self.a_min = self.a_min.min(a as f64);
            self.a_max = self.a_max.max(a as f64);
            self.b_min = self.b_min.min(b as f64);
            self.b_max = self.b_max.max(b as f64);
        }
    }
    /// Adds the elements `idx` of one chunk (original `orig`, reconstruction `recon`,
    /// model sigma `sig`).
    fn add(&mut self, orig: &[f64], recon: &[f64], sig: &[f64], idx: std::ops::Range<usize>) {
        for i in idx {
            let d = (orig[i] - recon[i]).abs();
            let s = sig[i];
            let r = if d == 0.0 { 0.0 } else { d / s };
            self.max_err_over_sigma = self.max_err_over_sigma.max(r);
            if s.is_finite() {
                self.sigma_min = self.sigma_min.min(s);
            }
            if s > 0.0 && s.is_finite() {
                self.sum_sq_ratio += r * r;
                self.modelled += 1;
            }
            if d > self.k * s {
                self.violations += 1;
            }
            self.pixels += 1;
        }
    }
}

/// Measurements for one setting.
pub struct Row {
    pub setting: Setting,
    pub raw_bytes: u64,
    /// Sum of the compressed chunk streams (what HDF5 stores for the dataset's chunks).
    pub stored_bytes: u64,
    pub chunk_count: usize,
    /// Bytes handed to the codec (full chunks, including edge padding).
    pub chunk_bytes: u64,
    pub compress_s: f64,
    pub decompress_s: f64,
    pub err: ErrorStats,
    pub psnr: f64,
    pub ssim: SliceSsim,
    pub particles: Option<u64>,
    pub downstream: Option<Downstream>,
    /// Apr rows: the pointwise E condition against the encoder's own `sigma_local`.
    pub lis: Option<LisStats>,
    /// Noise rows: the bound k * sigma(I) against the per-tile fitted model.
    pub noise: Option<NoiseStats>,
    /// The reconstruction's central 2-D slice (`Reference::central_slice`), for `--plot`.
    pub slice: Vec<f64>,
}

impl Row {
    pub fn ratio(&self) -> f64 {
        self.raw_bytes as f64 / self.stored_bytes.max(1) as f64
    }
    pub fn compress_mbs(&self) -> f64 {
        self.chunk_bytes as f64 / 1e6 / self.compress_s.max(1e-9)
    }
    pub fn decompress_mbs(&self) -> f64 {
        self.chunk_bytes as f64 / 1e6 / self.decompress_s.max(1e-9)
    }
    pub fn particles_per_pixel(&self, n_pixels: usize) -> Option<f64> {
        self.particles.map(|p| p as f64 / n_pixels.max(1) as f64)
    }
}

/// Number of chunks along each axis.
pub fn grid(shape: &[usize], chunks: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .zip(chunks)
        .map(|(&s, &c)| s.div_ceil(c))
        .collect()
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Calls `f(array_offset, chunk_offset, len)` (bytes) for every contiguous row of the block
/// `origin..origin+extent` of an array of `shape`, stored at the start of a chunk of `chunks`.
fn for_each_row(
    shape: &[usize],
    chunks: &[usize],
    origin: &[usize],
    extent: &[usize],
    elem: usize,
    mut f: impl FnMut(usize, usize, usize),
) {
    let n = shape.len();
    let (sa, sc) = (strides(shape), strides(chunks));
    let row = extent[n - 1] * elem;
    let mut idx = vec![0usize; n];
    loop {
        let a: usize = (0..n).map(|d| (origin[d] + idx[d]) * sa[d]).sum::<usize>() * elem;
        let c: usize = (0..n).map(|d| idx[d] * sc[d]).sum::<usize>() * elem;
        f(a, c, row);
        // Odometer over every axis but the last.
        let mut d = n - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < extent[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Array block -> chunk buffer (the rest of the buffer is left as is).
fn gather(
    array: &[u8],
    shape: &[usize],
    chunk: &mut [u8],
    chunks: &[usize],
    origin: &[usize],
    extent: &[usize],
    elem: usize,
) {
    for_each_row(shape, chunks, origin, extent, elem, |a, c, n| {
        chunk[c..c + n].copy_from_slice(&array[a..a + n])
    });
}

/// Chunk buffer -> array block (edge padding is dropped).
fn scatter(
    chunk: &[u8],
    chunks: &[usize],
    array: &mut [u8],
    shape: &[usize],
    origin: &[usize],
    extent: &[usize],
    elem: usize,
) {
    for_each_row(shape, chunks, origin, extent, elem, |a, c, n| {
        array[a..a + n].copy_from_slice(&chunk[c..c + n])
    });
}

/// Origin and extent of chunk number `k` (C order over the grid).
fn chunk_at(k: usize, shape: &[usize], chunks: &[usize], g: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let n = shape.len();
    let mut origin = vec![0; n];
    let mut extent = vec![0; n];
    let mut rem = k;
    for d in (0..n).rev() {
        let i = rem % g[d];
        rem /= g[d];
        origin[d] = i * chunks[d];
        extent[d] = chunks[d].min(shape[d] - origin[d]);
    }
    (origin, extent)
}

/// APR particles in a stream (apr mode only; `None` for lossless and abs streams).
fn particle_count(stream: &[u8]) -> Option<u64> {
    codec::stats(stream).ok().and_then(|s| s.particles)
}

/// Result of compressing and decompressing every chunk with one setting.
struct Trip {
    /// Reconstruction, little-endian bytes, C order.
    recon: Vec<u8>,
    stored: u64,
    chunk_bytes: u64,
    chunk_count: usize,
    compress_s: f64,
    decompress_s: f64,
    particles: Option<u64>,
    lis: Option<LisStats>,
    noise: Option<NoiseStats>,
}

/// Compresses and decompresses every chunk with one setting.
fn round_trip(
    input: &Input,
    chunks: &[usize],
    setting: &Setting,
    progress: &mut Progress,
) -> Result<Trip, String> {
    let (dtype, shape) = (input.dtype, &input.shape);
    let elem = dtype.size();
    let g = grid(shape, chunks);
    let n_chunks: usize = g.iter().product();
    let chunk_len: usize = chunks.iter().product::<usize>() * elem;
    let cfg = setting
        .settings()
        .config()
        .map_err(|e| e.message().to_string())?;
    let mut recon = vec![0u8; input.data.len()];
    let mut buf = vec![0u8; chunk_len];
    let (mut stored, mut t_c, mut t_d) = (0u64, 0.0f64, 0.0f64);
    let mut particles: Option<u64> = Some(0);
    let label = setting.label();
    let mut lis = match cfg.mode {
        codec::Mode::Apr(e) => Some(LisStats {
            rel_error: e,
            max_err_over_sigma: 0.0,
            violations: 0,
            pixels: 0,
        }),
        _ => None,
    };
    let mut noise = match cfg.mode {
        codec::Mode::Noise(k) => Some(NoiseStats::new(k)),
        _ => None,
    };
    // The model's sigma(I) itself: the fit does not depend on k, so k = 1 gives 1 * sigma.
    let sigma_cfg = cfg.clone().with_mode(codec::Mode::Noise(1.0));
    for k in 0..n_chunks {
        let (origin, extent) = chunk_at(k, shape, chunks, &g);
        buf.fill(0);
        gather(&input.data, shape, &mut buf, chunks, &origin, &extent, elem);
        let before = lis.map(|_| {
            (
                codec::values_f64(dtype, &buf),
                codec::local_scale_for(&buf, dtype, chunks, &cfg),
            )
        });
        let before_noise = noise.map(|_| {
            let (sig, models) = codec::noise_bound_for(&buf, dtype, chunks, &sigma_cfg);
            (codec::values_f64(dtype, &buf), sig, models)
        });
        let t0 = Instant::now();
        let stream = codec::compress(&buf, dtype, chunks, &cfg)
            .map_err(|e| format!("{label}: compressing chunk {origin:?}: {e}"))?;
        t_c += t0.elapsed().as_secs_f64();
        stored += stream.len() as u64;
        particles = particles.and_then(|p| particle_count(&stream).map(|q| p + q));
        let t0 = Instant::now();
        codec::decompress_into(&stream, &mut buf)
            .map_err(|e| format!("{label}: decompressing chunk {origin:?}: {e}"))?;
        t_d += t0.elapsed().as_secs_f64();
        if let (Some(l), Some((orig, sig))) = (lis.as_mut(), before) {
            let rv = codec::values_f64(dtype, &buf);
            for_each_row(shape, chunks, &origin, &extent, elem, |_, c, n| {
                l.add(&orig, &rv, &sig, c / elem..(c + n) / elem)
            });
        }
        if let (Some(ns), Some((orig, sig, models))) = (noise.as_mut(), before_noise) {
            let rv = codec::values_f64(dtype, &buf);
            ns.add_models(&models);
            for_each_row(shape, chunks, &origin, &extent, elem, |_, c, n| {
                ns.add(&orig, &rv, &sig, c / elem..(c + n) / elem)
            });
        }
        scatter(&buf, chunks, &mut recon, shape, &origin, &extent, elem);
        progress.inc(1, &format!("{label}: chunk {}/{n_chunks}", k + 1));
    }
    let chunk_bytes = (n_chunks * chunk_len) as u64;
    Ok(Trip {
        recon,
        stored,
        chunk_bytes,
        chunk_count: n_chunks,
        compress_s: t_c,
        decompress_s: t_d,
        particles,
        lis,
        noise,
    })
}

/// Runs every setting; one row each.
pub fn run(
    input: &Input,
    chunks: &[usize],
    settings: &[Setting],
    reference: &Reference,
    quiet: bool,
) -> Result<Vec<Row>, String> {
    let n_chunks: usize = grid(&input.shape, chunks).iter().product();
    let mut progress = Progress::new(((n_chunks + 1) * settings.len()) as u64, quiet);
    let mut rows = Vec::new();
    for s in settings {
        let trip = round_trip(input, chunks, s, &mut progress)?;
        progress.inc(0, &format!("{}: metrics", s.label()));
        let rv = metrics::to_f64(input.dtype, &trip.recon);
        let err = metrics::error_stats(&reference.values, &rv);
        let psnr = metrics::psnr(err.mse, reference.data_range);
        let ssim = metrics::ssim_slices(
            &reference.values,
            &rv,
            reference.shape3,
            reference.data_range,
        );
        let downstream = reference.seg.as_ref().map(|so| {
            let sr = metrics::segment(&rv, reference.shape3, reference.min_object_voxels);
            Downstream {
                threshold_orig: so.threshold,
                threshold_recon: sr.threshold,
                dice: metrics::dice(&so.mask, &sr.mask),
                objects_orig: so.objects,
                objects_recon: sr.objects,
                foreground_orig: so.foreground,
                foreground_recon: sr.foreground,
                hist_w1: metrics::wasserstein1_sorted(&reference.sorted, &rv),
            }
        });
        progress.inc(1, &format!("{}: metrics", s.label()));
        rows.push(Row {
            setting: s.clone(),
            raw_bytes: input.raw_bytes(),
            stored_bytes: trip.stored,
            chunk_count: trip.chunk_count,
            chunk_bytes: trip.chunk_bytes,
            compress_s: trip.compress_s,
            decompress_s: trip.decompress_s,
            err,
            psnr,
            ssim,
            particles: trip.particles,
            downstream,
            lis: trip.lis,
            noise: trip.noise,
            slice: slice_of(&rv, reference.shape3, reference.central_z()).to_vec(),
        });
    }
    progress.finish();
    Ok(rows)
}

/// Checks a user chunk shape against the data.
pub fn check_chunks(chunks: &[usize], shape: &[usize], dtype: DType) -> Result<(), String> {
    if chunks.len() != shape.len() {
        return Err(format!(
            "--chunks has {} entries but the dataset has {} axes (shape {shape:?})",
            chunks.len(),
            shape.len()
        ));
    }
    codec::checked_len(dtype, chunks)
        .map(|_| ())
        .map_err(|e| format!("--chunks {chunks:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_through_padded_chunks() {
        // 5 x 7 array of u16, chunks 2 x 3: edge chunks are partial.
        let shape = [5usize, 7];
        let chunks = [2usize, 3];
        let a: Vec<u8> = (0..35u16).flat_map(|v| v.to_le_bytes()).collect();
        let g = grid(&shape, &chunks);
        assert_eq!(g, vec![3, 3]);
        let mut out = vec![0u8; a.len()];
        let mut buf = vec![0u8; 12];
        for k in 0..9 {
            let (o, e) = chunk_at(k, &shape, &chunks, &g);
            buf.fill(0);
            gather(&a, &shape, &mut buf, &chunks, &o, &e, 2);
            if k == 8 {
                // Last chunk: rows 4.., cols 6.. -> only element (4,6) = 34, rest zero padding.
                assert_eq!(o, vec![4, 6]);
                assert_eq!(e, vec![1, 1]);
                assert_eq!(&buf[..2], &34u16.to_le_bytes());
                assert!(buf[2..].iter().all(|&b| b == 0));
            }
            if k == 1 {
                // rows 0..2, cols 3..6 -> [3,4,5, 10,11,12]
                let v: Vec<u16> = buf
                    .chunks(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                assert_eq!(v, vec![3, 4, 5, 10, 11, 12]);
            }
            scatter(&buf, &chunks, &mut out, &shape, &o, &e, 2);
        }
        assert_eq!(out, a);
    }
}
