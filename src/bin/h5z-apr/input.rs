//! Loading the dataset to evaluate: `.npy` files, or HDF5 datasets through the system libhdf5.

use h5z_apr::DType;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A dataset held in memory (little-endian element bytes, C order).
pub struct Input {
    pub file: PathBuf,
    /// HDF5 dataset path; `None` for `.npy`.
    pub dataset: Option<String>,
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// HDF5 chunk shape of the source dataset, if chunked.
    pub chunks: Option<Vec<usize>>,
    pub data: Vec<u8>,
    /// Bytes the dataset occupies in its file (HDF5 storage size), if known.
    pub storage_size: Option<u64>,
}

impl Input {
    /// `file` or `file:/dataset` for messages and reports.
    pub fn label(&self) -> String {
        match &self.dataset {
            Some(d) => format!("{}:{d}", self.file.display()),
            None => self.file.display().to_string(),
        }
    }
    pub fn raw_bytes(&self) -> u64 {
        self.data.len() as u64
    }
}

const HDF5_SIGNATURE: [u8; 8] = *b"\x89HDF\r\n\x1a\n";

#[derive(Debug, PartialEq)]
pub enum Kind {
    Npy,
    Hdf5,
}

/// Sniffs the file type from its first bytes (HDF5 allows a user block of 512 * 2^k bytes).
pub fn kind(path: &Path) -> Result<Kind, String> {
    let mut f =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut head = vec![0u8; 8];
    let n = f
        .read(&mut head)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if n >= 6 && &head[..6] == b"\x93NUMPY" {
        return Ok(Kind::Npy);
    }
    if n == 8 && head == HDF5_SIGNATURE {
        return Ok(Kind::Hdf5);
    }
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut off = 512u64;
    while off + 8 <= len {
        use std::io::{Seek, SeekFrom};
        f.seek(SeekFrom::Start(off)).map_err(|e| e.to_string())?;
        if f.read_exact(&mut head).is_ok() && head == HDF5_SIGNATURE {
            return Ok(Kind::Hdf5);
        }
        off *= 2;
    }
    Err(format!(
        "{} is neither a .npy nor an HDF5 file",
        path.display()
    ))
}

/// Splits `FILE[:/dataset]`. A path that exists as given is taken whole (it may contain ':').
pub fn split_spec(spec: &str) -> (PathBuf, Option<String>) {
    if Path::new(spec).exists() {
        return (PathBuf::from(spec), None);
    }
    match spec.rfind(':') {
        Some(i) if i > 0 => (
            PathBuf::from(&spec[..i]),
            Some(spec[i + 1..].to_string()).filter(|d| !d.is_empty()),
        ),
        _ => (PathBuf::from(spec), None),
    }
}

/// Loads `FILE[:/dataset]`.
pub fn load(spec: &str) -> Result<Input, String> {
    let (file, dataset) = split_spec(spec);
    if !file.exists() {
        return Err(format!("no such file: {}", file.display()));
    }
    match kind(&file)? {
        Kind::Npy => {
            if let Some(d) = dataset {
                return Err(format!(
                    "{} is a .npy file; it has no dataset '{d}'",
                    file.display()
                ));
            }
            let a = crate::npy::read(&file)?;
            if a.shape.is_empty() {
                return Err(format!(
                    "{}: scalar arrays cannot be evaluated",
                    file.display()
                ));
            }
            Ok(Input {
                file,
                dataset: None,
                dtype: a.dtype,
                shape: a.shape,
                chunks: None,
                data: a.data,
                storage_size: None,
            })
        }
        Kind::Hdf5 => load_hdf5(file, dataset),
    }
}

/// The dataset `FILE[:/dataset]` names: the one given (checked to exist) or the file's only one.
pub fn resolve_dataset(file: &Path, dataset: Option<String>) -> Result<String, String> {
    let names = h5z_apr::h5::list_datasets(file)?;
    Ok(match dataset {
        Some(d) => {
            let d = if d.starts_with('/') {
                d
            } else {
                format!("/{d}")
            };
            // Checked here so that a typo gives one clear line, not an HDF5 error stack.
            if !names.contains(&d) {
                let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
                return Err(format!(
                    "{}: no dataset {d} (the file holds: {}{})",
                    file.display(),
                    shown.join(", "),
                    if names.len() > 8 { ", ..." } else { "" }
                ));
            }
            d
        }
        None => match names.as_slice() {
            [one] => one.clone(),
            [] => return Err(format!("{}: the file holds no dataset", file.display())),
            many => {
                let shown: Vec<&str> = many.iter().take(8).map(String::as_str).collect();
                return Err(format!(
                    "{} holds {} datasets; choose one as FILE:/path ({}{})",
                    file.display(),
                    many.len(),
                    shown.join(", "),
                    if many.len() > 8 { ", ..." } else { "" }
                ));
            }
        },
    })
}

fn load_hdf5(file: PathBuf, dataset: Option<String>) -> Result<Input, String> {
    let name = resolve_dataset(&file, dataset)?;
    let d = h5z_apr::h5::read_dataset(&file, &name)?;
    if d.shape.is_empty() {
        return Err(format!(
            "{}:{name}: scalar datasets cannot be evaluated",
            file.display()
        ));
    }
    if d.data.is_empty() {
        return Err(format!("{}:{name}: the dataset is empty", file.display()));
    }
    Ok(Input {
        file,
        dataset: Some(name),
        dtype: d.dtype,
        shape: d.shape,
        chunks: d.chunks,
        data: d.data,
        storage_size: Some(d.storage_size),
    })
}

/// Default chunk shape: 16 x 256 x 256 on the last three axes, clipped to the shape,
/// 1 on leading axes; 65536 elements for 1-D data.
pub fn default_chunks(shape: &[usize]) -> Vec<usize> {
    let pref = [16usize, 256, 256];
    let n = shape.len();
    if n == 1 {
        return vec![shape[0].min(1 << 16)];
    }
    shape
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let from_end = n - i; // 1 = last axis
            if from_end <= 3 {
                d.min(pref[3 - from_end])
            } else {
                1
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_chunks_clip_and_pad() {
        assert_eq!(default_chunks(&[60, 256, 256]), vec![16, 256, 256]);
        assert_eq!(default_chunks(&[8, 1000, 100]), vec![8, 256, 100]);
        assert_eq!(default_chunks(&[512, 512]), vec![256, 256]);
        assert_eq!(default_chunks(&[100_000]), vec![65536]);
        assert_eq!(default_chunks(&[3, 20, 30, 40]), vec![1, 16, 30, 40]);
    }

    #[test]
    fn split_spec_takes_last_colon() {
        assert_eq!(
            split_spec("/nonexistent/a.h5:/g/d"),
            (PathBuf::from("/nonexistent/a.h5"), Some("/g/d".to_string()))
        );
        assert_eq!(
            split_spec("/nonexistent/a.npy"),
            (PathBuf::from("/nonexistent/a.npy"), None)
        );
    }
}
