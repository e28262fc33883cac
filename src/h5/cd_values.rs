//! The stored cd_values of filter 47815 (FORMAT.md §3.3). Pure code: no HDF5, no unsafe.
//! The user slots 0..=3 are [`crate::settings`]'s.
//!
//! `set_local` normalises the user values to exactly 4 slots and appends the stored layout:
//!
//! | slot | meaning |
//! |---|---|
//! | 4 | layout marker `0x415052vv` ("APR" + layout version vv, currently 1) |
//! | 5 | HDF5 type class (0 integer, 1 float) |
//! | 6 | element size in bytes |
//! | 7 | sign (0 unsigned, 1 two's complement; 1 for floats) |
//! | 8 | byte order of the file datatype (0 little-endian, 1 big-endian) |
//! | 9 | stored rank r (1..=10) |
//! | 10..10+r | chunk dims, C order; a chunk of rank > 10 has its leading dims merged into one |

use crate::codec::DType;
pub use crate::settings::SettingsError as CdValuesError;
use crate::settings::{UserParams, USER_SLOTS};

/// Upper 24 bits of the layout marker ("APR").
pub const LAYOUT_MARKER_BASE: u32 = 0x4150_5200;
/// Stored-layout version written by this build.
pub const LAYOUT_VERSION: u32 = 1;
/// Marker written in slot 4 by `set_local`.
pub const LAYOUT_MARKER: u32 = LAYOUT_MARKER_BASE | LAYOUT_VERSION;
/// Tools before HDF5 2.0 handle at most 20 cd_values; the stored layout never exceeds this.
pub const MAX_CD_VALUES: usize = 20;
/// Slots of the stored layout before the dims.
const LAYOUT_FIXED: usize = USER_SLOTS + 6;
/// Largest stored rank (20 - 10).
pub const MAX_STORED_RANK: usize = MAX_CD_VALUES - LAYOUT_FIXED;
fn err<T>(msg: impl Into<String>) -> Result<T, CdValuesError> {
    Err(CdValuesError::new(msg))
}

/// Datatype and chunk shape recorded by `set_local`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub dtype: DType,
    /// Byte order of the file datatype (chunks arrive in it).
    pub big_endian: bool,
    /// Stored chunk dims (rank <= [`MAX_STORED_RANK`]); the shape the codec sees.
    pub dims: Vec<usize>,
}

/// HDF5 type class codes used in the stored layout (same values as `H5T_class_t`).
pub const CLASS_INTEGER: u32 = 0;
pub const CLASS_FLOAT: u32 = 1;

/// Maps an HDF5 (class, size, signed) triple to a codec dtype.
pub fn dtype_from_parts(class: u32, size: u32, signed: bool) -> Option<DType> {
    Some(match (class, size, signed) {
        (CLASS_INTEGER, 1, false) => DType::U8,
        (CLASS_INTEGER, 1, true) => DType::I8,
        (CLASS_INTEGER, 2, false) => DType::U16,
        (CLASS_INTEGER, 2, true) => DType::I16,
        (CLASS_INTEGER, 4, false) => DType::U32,
        (CLASS_INTEGER, 4, true) => DType::I32,
        (CLASS_FLOAT, 4, _) => DType::F32,
        (CLASS_FLOAT, 8, _) => DType::F64,
        _ => return None,
    })
}

fn dtype_parts(d: DType) -> (u32, u32, u32) {
    let class = if d.is_float() {
        CLASS_FLOAT
    } else {
        CLASS_INTEGER
    };
    (class, d.size() as u32, d.is_signed() as u32)
}

impl Layout {
    /// Builds the layout of a chunk. Ranks above [`MAX_STORED_RANK`] merge their leading
    /// dims into one (the element count and C order are unchanged).
    pub fn from_chunk(
        dtype: DType,
        big_endian: bool,
        chunk: &[u64],
    ) -> Result<Layout, CdValuesError> {
        if chunk.is_empty() {
            return err("the chunk has rank 0; a chunked dataset has rank >= 1");
        }
        if chunk.contains(&0) {
            return err(format!("chunk dims {chunk:?} contain 0"));
        }
        let total = chunk
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= u32::MAX as u64)
            .ok_or_else(|| {
                CdValuesError::new(format!("chunk dims {chunk:?} exceed 2^32-1 elements"))
            })?;
        debug_assert!(total >= 1);
        let merge = chunk.len().saturating_sub(MAX_STORED_RANK);
        let mut dims: Vec<usize> = Vec::with_capacity(chunk.len().min(MAX_STORED_RANK));
        if merge > 0 {
            dims.push(chunk[..=merge].iter().product::<u64>() as usize);
            dims.extend(chunk[merge + 1..].iter().map(|&d| d as usize));
        } else {
            dims.extend(chunk.iter().map(|&d| d as usize));
        }
        Ok(Layout {
            dtype,
            big_endian,
            dims,
        })
    }

    /// Elements per chunk.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes per (decoded) chunk.
    pub fn nbytes(&self) -> usize {
        self.len() * self.dtype.size()
    }
}

/// Everything the cd_values of a dataset say: user params plus, after `set_local`, the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdValues {
    pub user: UserParams,
    pub layout: Option<Layout>,
}

/// True when `cd` carries a stored layout of any version (slot 4 holds an "APR" marker).
pub fn has_layout_marker(cd: &[u32]) -> bool {
    cd.len() > USER_SLOTS && cd[USER_SLOTS] & 0xFFFF_FF00 == LAYOUT_MARKER_BASE
}

impl CdValues {
    /// Parses user values (0..=4 slots) or a stored layout written by `set_local`.
    pub fn parse(cd: &[u32]) -> Result<CdValues, CdValuesError> {
        if cd.len() <= USER_SLOTS {
            return Ok(CdValues {
                user: UserParams::parse(cd)?,
                layout: None,
            });
        }
        if !has_layout_marker(cd) {
            return UserParams::parse(cd).map(|user| CdValues { user, layout: None });
        }
        let version = cd[USER_SLOTS] & 0xFF;
        if version != LAYOUT_VERSION {
            return err(format!(
                "stored layout version {version}; this build of h5z-apr ({}) reads version {LAYOUT_VERSION}",
                crate::VERSION
            ));
        }
        let user = UserParams::parse(&cd[..USER_SLOTS])?;
        if cd.len() < LAYOUT_FIXED + 1 {
            return err(format!(
                "stored layout has {} values, needs at least {}",
                cd.len(),
                LAYOUT_FIXED + 1
            ));
        }
        let (class, size, sign, order, rank) = (cd[5], cd[6], cd[7], cd[8], cd[9] as usize);
        if !(1..=MAX_STORED_RANK).contains(&rank) || cd.len() != LAYOUT_FIXED + rank {
            return err(format!(
                "stored layout rank {rank} does not match its {} values",
                cd.len()
            ));
        }
        if sign > 1 {
            return err(format!("stored layout sign {sign} is not 0 or 1"));
        }
        let dtype = dtype_from_parts(class, size, sign == 1).ok_or_else(|| {
            CdValuesError::new(format!(
                "stored layout datatype (class {class}, size {size}, sign {sign}) is not supported"
            ))
        })?;
        let big_endian = match order {
            0 => false,
            1 => true,
            o => {
                return err(format!(
                    "stored layout byte order {o} is not 0 (LE) or 1 (BE)"
                ))
            }
        };
        let dims: Vec<usize> = cd[LAYOUT_FIXED..].iter().map(|&d| d as usize).collect();
        if dims.contains(&0) {
            return err("stored layout has a zero chunk dim");
        }
        let total = dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
            .unwrap_or(u64::MAX);
        if total > u32::MAX as u64 {
            return err("stored layout chunk exceeds 2^32-1 elements");
        }
        Ok(CdValues {
            user,
            layout: Some(Layout {
                dtype,
                big_endian,
                dims,
            }),
        })
    }

    /// The user part of any cd_values array, ignoring (and not validating) a stored layout.
    /// This is what `set_local` starts from, which makes it idempotent.
    pub fn user_part(cd: &[u32]) -> Result<UserParams, CdValuesError> {
        if has_layout_marker(cd) {
            UserParams::parse(&cd[..USER_SLOTS])
        } else {
            UserParams::parse(cd)
        }
    }

    /// The array `set_local` stores. Panics if `layout` is `None` (a programming error).
    pub fn to_stored(&self) -> Vec<u32> {
        let layout = self.layout.as_ref().expect("to_stored needs a layout");
        let (class, size, sign) = dtype_parts(layout.dtype);
        let mut v = Vec::with_capacity(LAYOUT_FIXED + layout.dims.len());
        v.extend_from_slice(&self.user.to_slots());
        v.extend_from_slice(&[
            LAYOUT_MARKER,
            class,
            size,
            sign,
            layout.big_endian as u32,
            layout.dims.len() as u32,
        ]);
        v.extend(layout.dims.iter().map(|&d| d as u32));
        debug_assert!(v.len() <= MAX_CD_VALUES);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_user_values_without_a_marker() {
        let e = CdValues::parse(&[1, 4, 0, 3, 7]).unwrap_err();
        assert!(e.message().contains("at most 4"), "{e}");
    }

    #[test]
    fn stored_layout_round_trips_and_is_idempotent() {
        let user = UserParams::parse(&[1, 4, 0]).unwrap();
        let layout = Layout::from_chunk(DType::U16, true, &[16, 64, 33]).unwrap();
        let cd = CdValues {
            user,
            layout: Some(layout.clone()),
        };
        let stored = cd.to_stored();
        assert_eq!(
            stored,
            vec![1, 4, 0, 3, LAYOUT_MARKER, 0, 2, 0, 1, 3, 16, 64, 33]
        );
        assert_eq!(CdValues::parse(&stored).unwrap(), cd);
        // set_local starts from the user part of its own output: same result.
        assert_eq!(CdValues::user_part(&stored).unwrap(), user);
        assert_eq!(layout.nbytes(), 16 * 64 * 33 * 2);
    }

    #[test]
    fn every_dtype_maps_and_round_trips() {
        for d in DType::ALL {
            let (c, s, g) = dtype_parts(d);
            assert_eq!(dtype_from_parts(c, s, g == 1), Some(d));
            let cd = CdValues {
                user: UserParams::default(),
                layout: Some(Layout::from_chunk(d, false, &[5]).unwrap()),
            };
            assert_eq!(CdValues::parse(&cd.to_stored()).unwrap(), cd);
        }
        assert_eq!(dtype_from_parts(CLASS_INTEGER, 8, true), None);
        assert_eq!(dtype_from_parts(CLASS_FLOAT, 2, true), None);
        assert_eq!(dtype_from_parts(4, 1, false), None);
    }

    #[test]
    fn high_rank_chunks_merge_leading_dims() {
        let chunk: Vec<u64> = (0..13).map(|i| if i % 2 == 0 { 2 } else { 1 }).collect();
        let l = Layout::from_chunk(DType::U8, false, &chunk).unwrap();
        assert_eq!(l.dims.len(), MAX_STORED_RANK);
        assert_eq!(
            l.len() as u64,
            chunk.iter().product::<u64>(),
            "element count is preserved"
        );
        assert_eq!(
            l.dims[1..],
            chunk[4..].iter().map(|&d| d as usize).collect::<Vec<_>>()[..]
        );
        let cd = CdValues {
            user: UserParams::default(),
            layout: Some(l),
        };
        let stored = cd.to_stored();
        assert_eq!(stored.len(), MAX_CD_VALUES);
        assert_eq!(CdValues::parse(&stored).unwrap(), cd);
    }

    #[test]
    fn layout_rejects_bad_chunks() {
        assert!(Layout::from_chunk(DType::U8, false, &[]).is_err());
        assert!(Layout::from_chunk(DType::U8, false, &[4, 0]).is_err());
        assert!(Layout::from_chunk(DType::U8, false, &[1 << 20, 1 << 20]).is_err());
    }

    #[test]
    fn rejects_corrupt_stored_layouts() {
        let good = CdValues {
            user: UserParams::default(),
            layout: Some(Layout::from_chunk(DType::F32, false, &[8, 8]).unwrap()),
        }
        .to_stored();
        let mut v = good.clone();
        v[USER_SLOTS] = LAYOUT_MARKER_BASE | 2;
        assert!(CdValues::parse(&v)
            .unwrap_err()
            .message()
            .contains("version 2"));
        // set_local still recovers the user part from a newer layout.
        assert_eq!(CdValues::user_part(&v).unwrap(), UserParams::default());
        let mut v = good.clone();
        v[9] = 3;
        assert!(CdValues::parse(&v).is_err());
        let mut v = good.clone();
        v[8] = 2;
        assert!(CdValues::parse(&v)
            .unwrap_err()
            .message()
            .contains("byte order"));
        let mut v = good.clone();
        v[6] = 2;
        assert!(CdValues::parse(&v)
            .unwrap_err()
            .message()
            .contains("not supported"));
        let mut v = good.clone();
        v[10] = 0;
        assert!(CdValues::parse(&v).is_err());
        let mut v = good;
        v.truncate(9);
        assert!(CdValues::parse(&v).is_err());
    }
}
