//! Streaming inputs of `h5z-apr compress`: a `.npy` file (read with positioned reads, never
//! whole), a multi-page TIFF stack (decoded page by page with the pure-Rust `tiff` crate) or
//! an HDF5 dataset (read by hyperslab). Each hands out boxes of the array as little-endian
//! C-order bytes.

use crate::input::{kind, resolve_dataset, split_spec, Kind};
use h5z_apr::h5::slab::SlabReader;
use h5z_apr::DType;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// An array read box by box.
pub trait Source: Send {
    fn dtype(&self) -> DType;
    fn shape(&self) -> &[usize];
    /// The input's own chunk shape (HDF5 chunked datasets).
    fn native_chunks(&self) -> Option<Vec<usize>> {
        None
    }
    /// True when boxes must cover whole planes of axes 1.. and come in increasing order of
    /// axis 0 (TIFF pages decode whole and in sequence).
    fn planes_only(&self) -> bool {
        false
    }
    /// Reads the box `start..start+count` into `out` (exactly its size).
    fn read_box(&mut self, start: &[usize], count: &[usize], out: &mut [u8]) -> Result<(), String>;
    /// `file` or `file:/dataset`, for messages.
    fn label(&self) -> String;
}

/// Opens `FILE[:/dataset]` (`.npy`, TIFF or HDF5, sniffed from the content).
pub fn open(spec: &str) -> Result<Box<dyn Source>, String> {
    let (file, dataset) = split_spec(spec);
    if !file.exists() {
        return Err(format!("no such file: {}", file.display()));
    }
    if is_tiff(&file)? {
        if let Some(d) = dataset {
            return Err(format!(
                "{} is a TIFF file; it has no dataset '{d}'",
                file.display()
            ));
        }
        return Ok(Box::new(Tiff::open(&file)?));
    }
    let src: Box<dyn Source> = match kind(&file)
        .map_err(|e| e.replace("a .npy nor an HDF5", "a .npy, a TIFF nor an HDF5"))?
    {
        Kind::Npy => {
            if let Some(d) = dataset {
                return Err(format!(
                    "{} is a .npy file; it has no dataset '{d}'",
                    file.display()
                ));
            }
            Box::new(Npy::open(&file)?)
        }
        Kind::Hdf5 => {
            let name = resolve_dataset(&file, dataset)?;
            let r = SlabReader::open(&file, &name)?;
            Box::new(Hdf5 {
                label: format!("{}:{name}", file.display()),
                r,
            })
        }
    };
    if src.shape().is_empty() {
        return Err(format!(
            "{}: scalar arrays cannot be compressed",
            src.label()
        ));
    }
    if src.shape().contains(&0) {
        return Err(format!(
            "{}: the array is empty (shape {:?})",
            src.label(),
            src.shape()
        ));
    }
    Ok(src)
}

fn is_tiff(path: &Path) -> Result<bool, String> {
    let f = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut head = [0u8; 4];
    let n = f.read_at(&mut head, 0).unwrap_or(0);
    Ok(n == 4 && matches!(&head, b"II*\0" | b"MM\0*" | b"II+\0" | b"MM\0+"))
}

/// C-order strides in elements.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Calls `f(array_elem_offset, box_elem_offset, run_len)` for every contiguous run of the box
/// `start..start+count` of an array of `shape` (runs merge trailing whole axes).
pub fn for_each_run(
    shape: &[usize],
    start: &[usize],
    count: &[usize],
    mut f: impl FnMut(usize, usize, usize) -> Result<(), String>,
) -> Result<(), String> {
    let n = shape.len();
    // First axis (from the left) after which every axis is whole.
    let mut a = n - 1;
    while a > 0 && count[a] == shape[a] && start[a] == 0 {
        a -= 1;
    }
    let sa = strides(shape);
    let run: usize = count[a] * sa[a];
    let mut idx = vec![0usize; a];
    let mut boff = 0usize;
    loop {
        let off: usize =
            (0..a).map(|d| (start[d] + idx[d]) * sa[d]).sum::<usize>() + start[a] * sa[a];
        f(off, boff, run)?;
        boff += run;
        // Odometer over axes 0..a.
        let mut d = a;
        loop {
            if d == 0 {
                return Ok(());
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < count[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

struct Npy {
    path: PathBuf,
    file: File,
    dtype: DType,
    big_endian: bool,
    shape: Vec<usize>,
    offset: u64,
}

impl Npy {
    fn open(path: &Path) -> Result<Npy, String> {
        let h = crate::npy::read_header(path)?;
        let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        let need = h
            .shape
            .iter()
            .try_fold(h.dtype.size() as u64, |a, &d| a.checked_mul(d as u64))
            .ok_or_else(|| format!("{}: shape {:?} is too large", path.display(), h.shape))?;
        if len < h.data_offset as u64 + need {
            return Err(format!(
                "{}: truncated .npy ({} data bytes, shape {:?} of {} needs {need})",
                path.display(),
                len.saturating_sub(h.data_offset as u64),
                h.shape,
                h.dtype.name()
            ));
        }
        Ok(Npy {
            path: path.to_path_buf(),
            file,
            dtype: h.dtype,
            big_endian: h.big_endian,
            shape: h.shape,
            offset: h.data_offset as u64,
        })
    }
}

impl Source for Npy {
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn label(&self) -> String {
        self.path.display().to_string()
    }
    fn read_box(&mut self, start: &[usize], count: &[usize], out: &mut [u8]) -> Result<(), String> {
        let es = self.dtype.size();
        let (file, base, path) = (&self.file, self.offset, &self.path);
        for_each_run(&self.shape, start, count, |a, b, n| {
            file.read_exact_at(&mut out[b * es..(b + n) * es], base + (a * es) as u64)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        })?;
        if self.big_endian && es > 1 {
            for e in out.chunks_exact_mut(es) {
                e.reverse();
            }
        }
        Ok(())
    }
}

struct Hdf5 {
    label: String,
    r: SlabReader,
}

impl Source for Hdf5 {
    fn dtype(&self) -> DType {
        self.r.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.r.shape
    }
    fn native_chunks(&self) -> Option<Vec<usize>> {
        self.r.chunks.clone()
    }
    fn label(&self) -> String {
        self.label.clone()
    }
    fn read_box(&mut self, start: &[usize], count: &[usize], out: &mut [u8]) -> Result<(), String> {
        self.r.read_box(start, count, out)
    }
}

/// A TIFF stack: shape (pages, height, width), one sample per pixel.
struct Tiff {
    path: PathBuf,
    dec: tiff::decoder::Decoder<std::io::BufReader<File>>,
    dtype: DType,
    shape: Vec<usize>,
    /// Page the decoder is positioned on.
    page: usize,
}

fn tiff_err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: bad TIFF: {e}", path.display())
}

fn tiff_decoder(path: &Path) -> Result<tiff::decoder::Decoder<std::io::BufReader<File>>, String> {
    let f = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    tiff::decoder::Decoder::new(std::io::BufReader::new(f))
        .map(|d| d.with_limits(tiff::decoder::Limits::unlimited()))
        .map_err(|e| tiff_err(path, e))
}

/// Dtype of a page from its tags (without decoding it).
fn tiff_dtype(
    path: &Path,
    dec: &mut tiff::decoder::Decoder<std::io::BufReader<File>>,
) -> Result<DType, String> {
    use tiff::tags::Tag;
    use tiff::ColorType;
    let ct = dec.colortype().map_err(|e| tiff_err(path, e))?;
    let bits = match ct {
        ColorType::Gray(b) => b,
        other => {
            return Err(format!(
            "{}: TIFF pages are {other:?}; only single-channel (grayscale) stacks are supported",
            path.display()
        ))
        }
    };
    // SampleFormat: 1 unsigned (default), 2 signed, 3 float.
    let fmt: u16 = dec
        .find_tag_unsigned(Tag::SampleFormat)
        .map_err(|e| tiff_err(path, e))?
        .unwrap_or(1);
    Ok(match (fmt, bits) {
        (1, 8) => DType::U8,
        (1, 16) => DType::U16,
        (1, 32) => DType::U32,
        (2, 8) => DType::I8,
        (2, 16) => DType::I16,
        (2, 32) => DType::I32,
        (3, 32) => DType::F32,
        (3, 64) => DType::F64,
        _ => {
            return Err(format!(
                "{}: unsupported TIFF sample type ({bits}-bit, SampleFormat {fmt}); \
                 supported: u8, i8, u16, i16, u32, i32, f32, f64",
                path.display()
            ))
        }
    })
}

impl Tiff {
    fn open(path: &Path) -> Result<Tiff, String> {
        // One pass over the directories (tags only) to count and check the pages.
        let mut dec = tiff_decoder(path)?;
        let (w, h) = dec.dimensions().map_err(|e| tiff_err(path, e))?;
        let dtype = tiff_dtype(path, &mut dec)?;
        let mut pages = 1usize;
        while dec.more_images() {
            dec.next_image().map_err(|e| tiff_err(path, e))?;
            let (w2, h2) = dec.dimensions().map_err(|e| tiff_err(path, e))?;
            if (w2, h2) != (w, h) {
                return Err(format!(
                    "{}: page {pages} is {w2}x{h2} but page 0 is {w}x{h}; a stack needs equal pages",
                    path.display()
                ));
            }
            let d2 = tiff_dtype(path, &mut dec)?;
            if d2 != dtype {
                return Err(format!(
                    "{}: page {pages} is {} but page 0 is {}",
                    path.display(),
                    d2.name(),
                    dtype.name()
                ));
            }
            pages += 1;
        }
        let dec = tiff_decoder(path)?;
        Ok(Tiff {
            path: path.to_path_buf(),
            dec,
            dtype,
            shape: vec![pages, h as usize, w as usize],
            page: 0,
        })
    }
}

impl Source for Tiff {
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn planes_only(&self) -> bool {
        true
    }
    fn label(&self) -> String {
        self.path.display().to_string()
    }
    fn read_box(&mut self, start: &[usize], count: &[usize], out: &mut [u8]) -> Result<(), String> {
        use tiff::decoder::DecodingResult as R;
        let plane = self.shape[1] * self.shape[2] * self.dtype.size();
        if start[1..].iter().any(|&s| s != 0) || count[1..] != self.shape[1..] {
            return Err("internal: TIFF boxes must cover whole pages".into());
        }
        for (i, z) in (start[0]..start[0] + count[0]).enumerate() {
            if z != self.page {
                self.dec
                    .seek_to_image(z)
                    .map_err(|e| tiff_err(&self.path, e))?;
            }
            let img = self
                .dec
                .read_image()
                .map_err(|e| tiff_err(&self.path, format!("page {z}: {e}")))?;
            self.page = z;
            if self.dec.more_images() {
                self.dec.next_image().map_err(|e| tiff_err(&self.path, e))?;
                self.page = z + 1;
            }
            let dst = &mut out[i * plane..(i + 1) * plane];
            macro_rules! put {
                ($v:expr) => {{
                    let es = std::mem::size_of_val(&$v[0]);
                    if $v.len() * es != plane {
                        return Err(format!(
                            "{}: page {z} decoded to {} bytes, expected {plane}",
                            self.path.display(),
                            $v.len() * es
                        ));
                    }
                    for (d, x) in dst.chunks_exact_mut(es).zip($v.iter()) {
                        d.copy_from_slice(&x.to_le_bytes());
                    }
                }};
            }
            match img {
                R::U8(v) => put!(v),
                R::U16(v) => put!(v),
                R::U32(v) => put!(v),
                R::I8(v) => put!(v),
                R::I16(v) => put!(v),
                R::I32(v) => put!(v),
                R::F32(v) => put!(v),
                R::F64(v) => put!(v),
                R::U64(_) | R::I64(_) => {
                    return Err(format!(
                        "{}: page {z}: 64-bit integer samples are not supported",
                        self.path.display()
                    ))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_a_box_in_order() {
        let shape = [4, 5, 6];
        let mut runs = Vec::new();
        for_each_run(&shape, &[1, 2, 0], &[2, 3, 6], |a, b, n| {
            runs.push((a, b, n));
            Ok(())
        })
        .unwrap();
        assert_eq!(runs, vec![(42, 0, 18), (72, 18, 18)]);
        runs.clear();
        for_each_run(&shape, &[0, 0, 0], &[4, 5, 6], |a, b, n| {
            runs.push((a, b, n));
            Ok(())
        })
        .unwrap();
        assert_eq!(runs, vec![(0, 0, 120)]);
        runs.clear();
        for_each_run(&shape, &[0, 1, 2], &[1, 2, 3], |a, b, n| {
            runs.push((a, b, n));
            Ok(())
        })
        .unwrap();
        assert_eq!(runs, vec![(8, 0, 3), (14, 3, 3)]);
    }
}
