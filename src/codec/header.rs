//! Stream header: magic, format version, dtype, mode, shape. See FORMAT.md §2.

use super::dtype::{checked_len, DType, MAX_RANK};
use super::Mode;
use crate::codec::error::{Error, ErrorKind, Result};

/// First four bytes of every stream.
pub const MAGIC: [u8; 4] = *b"APRZ";
/// Newest stream format version of this build; decoders accept 1..=FORMAT_VERSION. The
/// encoder writes version 6 for a stream with a float-grid tile (method 10, §10: float abs and
/// apr tiles), version 5 for noise mode (FORMAT.md §8; version 3 before h5z-apr 0.4) and for
/// lossless and abs streams with a palette-fast tile (method 9, §9), version 4 for apr mode
/// (§7) and version 2 otherwise.
pub const FORMAT_VERSION: u8 = 6;

/// Fixed part of the header before the dims: magic 4, version 1, dtype 1, mode 1, rank 1, param 8.
const FIXED_LEN: usize = 16;

/// What a stream says about the chunk it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub version: u8,
    pub dtype: DType,
    pub mode: Mode,
    pub shape: Vec<usize>,
}

impl Header {
    /// Number of elements of the decoded chunk.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bytes of the decoded chunk.
    pub fn nbytes(&self) -> usize {
        self.len() * self.dtype.size()
    }
    /// Encoded length of this header.
    pub fn encoded_len(&self) -> usize {
        FIXED_LEN + 4 * self.shape.len()
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.push(self.version);
        out.push(self.dtype.code());
        out.push(self.mode.code());
        out.push(self.shape.len() as u8);
        out.extend_from_slice(&self.mode.param().to_le_bytes());
        for &d in &self.shape {
            out.extend_from_slice(&(d as u32).to_le_bytes());
        }
    }

    /// Parses and validates a header; returns it and its encoded length.
    pub fn parse(buf: &[u8]) -> Result<(Header, usize)> {
        if buf.len() < FIXED_LEN {
            if buf.len() >= 4 && buf[..4] != MAGIC {
                return Err(Error::corrupt("not an APR stream (bad magic)"));
            }
            return Err(Error::truncated(format!(
                "stream of {} bytes is shorter than the {FIXED_LEN}-byte header",
                buf.len()
            )));
        }
        if buf[..4] != MAGIC {
            return Err(Error::corrupt("not an APR stream (bad magic)"));
        }
        let version = buf[4];
        if version == 0 || version > FORMAT_VERSION {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("stream format version {version}; this build decodes 1..={FORMAT_VERSION}"),
            ));
        }
        let dtype = DType::from_code(buf[5])
            .ok_or_else(|| Error::corrupt(format!("unknown dtype code {}", buf[5])))?;
        let rank = buf[7] as usize;
        if rank == 0 || rank > MAX_RANK {
            return Err(Error::corrupt(format!(
                "rank {rank} outside 1..={MAX_RANK}"
            )));
        }
        let param = f64::from_le_bytes(buf[8..16].try_into().expect("8 bytes"));
        let mode = match buf[6] {
            0 => Mode::Lossless,
            1 => Mode::Abs(param),
            2 => Mode::Apr(param),
            3 if version >= 3 => Mode::Noise(param),
            3 => {
                return Err(Error::corrupt(format!(
                    "noise mode (code 3) in a format version {version} stream (needs 3)"
                )))
            }
            m => return Err(Error::corrupt(format!("unknown mode code {m}"))),
        };
        match mode {
            Mode::Lossless if param != 0.0 => {
                return Err(Error::corrupt("lossless stream with non-zero parameter"))
            }
            Mode::Abs(b) if !(b.is_finite() && b >= 0.0) => {
                return Err(Error::corrupt(format!("invalid abs bound {b}")))
            }
            Mode::Apr(e) if !(e.is_finite() && e > 0.0) => {
                return Err(Error::corrupt(format!("invalid rel_error {e}")))
            }
            Mode::Noise(k) if !(k.is_finite() && k >= 0.0) => {
                return Err(Error::corrupt(format!("invalid noise factor {k}")))
            }
            _ => {}
        }
        let len = FIXED_LEN + 4 * rank;
        if buf.len() < len {
            return Err(Error::truncated("stream ends inside the shape"));
        }
        let shape: Vec<usize> = buf[FIXED_LEN..len]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")) as usize)
            .collect();
        checked_len(dtype, &shape)
            .map_err(|e| Error::corrupt(format!("bad shape: {}", e.message())))?;
        Ok((
            Header {
                version,
                dtype,
                mode,
                shape,
            },
            len,
        ))
    }
}
