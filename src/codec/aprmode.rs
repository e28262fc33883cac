//! apr mode: particle cells + particle intensities (filled in below).

use super::bits::Cursor;
use super::{Config, DType};
use crate::error::{Error, ErrorKind, Result};

pub fn encode(
    _data: &[u8],
    _dtype: DType,
    _bs: [usize; 3],
    _nblocks: usize,
    _e: f64,
    _cfg: &Config,
    _out: &mut Vec<u8>,
) -> Result<()> {
    Err(Error::new(
        ErrorKind::Unsupported,
        "apr mode is being implemented",
    ))
}

pub fn decode(
    _cur: &mut Cursor,
    _dtype: DType,
    _bs: [usize; 3],
    _nblocks: usize,
    _e: f64,
    _out: &mut [u8],
) -> Result<()> {
    Err(Error::new(
        ErrorKind::Unsupported,
        "apr mode is being implemented",
    ))
}
