//! Typed `cd_values` of filter 47815 (FORMAT.md §3). Pure code: no HDF5, no unsafe.
//!
//! User values (h5py `compression_opts`, h5repack `UD=47815,flag,n,v1..vn`), all optional:
//!
//! | slot | meaning | default |
//! |---|---|---|
//! | 0 | mode: 0 lossless, 1 abs (pointwise bound), 2 apr (LibAPR `rel_error` E) | 2 |
//! | 1 | mantissa m of the mode value v = m x 10^-e | abs: 1, apr: 1 |
//! | 2 | exponent e (0..=22) | abs: 0, apr: 1 (so E = 0.1) |
//! | 3 | entropy-coder effort 1..=22 | 3 |
//!
//! `set_local` normalises them to exactly 4 slots and appends the stored layout:
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

use crate::codec::{Config, DType};
use std::fmt;

/// Number of user slots after normalisation.
pub const USER_SLOTS: usize = 4;
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
/// Largest decimal exponent (10^22 is the largest power of ten exact in f64).
pub const MAX_EXPONENT: u32 = 22;
/// Default entropy effort.
pub const DEFAULT_EFFORT: u32 = 3;

/// A rejected cd_values array, with a message meant for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdValuesError(pub String);

impl fmt::Display for CdValuesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "h5z-apr cd_values: {}", self.0)
    }
}

impl std::error::Error for CdValuesError {}

fn err<T>(msg: impl Into<String>) -> Result<T, CdValuesError> {
    Err(CdValuesError(msg.into()))
}

/// Compression mode with its decimal parameter kept exactly as given (m x 10^-e).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserMode {
    Lossless,
    Abs { mantissa: u32, exponent: u32 },
    Apr { mantissa: u32, exponent: u32 },
}

/// The user part of the cd_values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserParams {
    pub mode: UserMode,
    pub effort: u32,
}

impl Default for UserParams {
    /// No values at all: apr mode, E = 0.1, effort 3.
    fn default() -> Self {
        UserParams {
            mode: UserMode::Apr {
                mantissa: 1,
                exponent: 1,
            },
            effort: DEFAULT_EFFORT,
        }
    }
}

/// The inverse of [`decimal_value`]: `value` as `(m, e)` with the smallest exponent that
/// represents it to 1e-12 relative (0.1 + 0.2 -> (3, 1)); `None` for negative or non-finite
/// values and for those that need m >= 2^32 or e > MAX_EXPONENT (e.g. pi).
pub fn decimal_of(value: f64) -> Option<(u32, u32)> {
    if !(value.is_finite() && value >= 0.0) {
        return None;
    }
    for exponent in 0..=MAX_EXPONENT {
        let p = 10f64.powi(exponent as i32);
        let m = (value * p).round();
        if m > f64::from(u32::MAX) {
            break;
        }
        if (m / p - value).abs() <= value * 1e-12 {
            return Some((m as u32, exponent));
        }
    }
    None
}

/// m x 10^-e, correctly rounded (division by an exact power of ten).
pub fn decimal_value(mantissa: u32, exponent: u32) -> f64 {
    mantissa as f64 / 10f64.powi(exponent as i32)
}

impl UserParams {
    /// Parses 0..=4 user values. More values are only valid as a stored layout (see
    /// [`CdValues::parse`]).
    pub fn parse(cd: &[u32]) -> Result<UserParams, CdValuesError> {
        if cd.len() > USER_SLOTS {
            return err(format!(
                "{} values given; at most {USER_SLOTS} user values are accepted \
                 (mode, mantissa, exponent, effort)",
                cd.len()
            ));
        }
        let mode_code = cd.first().copied().unwrap_or(2);
        let value = |m_default: u32, e_default: u32| -> Result<(u32, u32), CdValuesError> {
            let m = cd.get(1).copied().unwrap_or(m_default);
            let e = cd
                .get(2)
                .copied()
                .unwrap_or(if cd.len() >= 2 { 0 } else { e_default });
            if e > MAX_EXPONENT {
                return err(format!(
                    "exponent (slot 2) must be 0..={MAX_EXPONENT}, got {e}"
                ));
            }
            Ok((m, e))
        };
        let mode = match mode_code {
            0 => UserMode::Lossless,
            1 => {
                let (mantissa, exponent) = value(1, 0)?;
                UserMode::Abs { mantissa, exponent }
            }
            2 => {
                let (mantissa, exponent) = value(1, 1)?;
                if mantissa == 0 {
                    return err("apr mode needs a relative error E > 0 (slot 1 mantissa is 0)");
                }
                UserMode::Apr { mantissa, exponent }
            }
            m => {
                return err(format!(
                    "unknown mode {m} in slot 0 (0 lossless, 1 abs, 2 apr)"
                ))
            }
        };
        let effort = cd.get(3).copied().unwrap_or(DEFAULT_EFFORT);
        if !(1..=22).contains(&effort) {
            return err(format!(
                "effort (slot 3) must be 1..=22, got {effort} (omit the slot for the default {DEFAULT_EFFORT})"
            ));
        }
        Ok(UserParams { mode, effort })
    }

    /// The normalised 4 user slots.
    pub fn to_slots(&self) -> [u32; USER_SLOTS] {
        match self.mode {
            UserMode::Lossless => [0, 0, 0, self.effort],
            UserMode::Abs { mantissa, exponent } => [1, mantissa, exponent, self.effort],
            UserMode::Apr { mantissa, exponent } => [2, mantissa, exponent, self.effort],
        }
    }

    /// The codec configuration these values select.
    pub fn config(&self) -> Config {
        let cfg = match self.mode {
            UserMode::Lossless => Config::lossless(),
            UserMode::Abs { mantissa, exponent } => Config::abs(decimal_value(mantissa, exponent)),
            UserMode::Apr { mantissa, exponent } => Config::apr(decimal_value(mantissa, exponent)),
        };
        cfg.with_effort(self.effort as i32)
    }
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
            .ok_or_else(|| CdValuesError(format!("chunk dims {chunk:?} exceed 2^32-1 elements")))?;
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
            CdValuesError(format!(
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
    use crate::codec::Mode;

    fn mode_of(cd: &[u32]) -> Mode {
        UserParams::parse(cd).unwrap().config().mode
    }

    #[test]
    fn examples_from_the_issue() {
        assert_eq!(mode_of(&[1, 4, 0]), Mode::Abs(4.0));
        assert_eq!(mode_of(&[2, 1, 1]), Mode::Apr(0.1));
        assert_eq!(mode_of(&[1, 5, 4]), Mode::Abs(0.0005));
        assert_eq!(mode_of(&[0]), Mode::Lossless);
        assert_eq!(mode_of(&[0, 7, 9]), Mode::Lossless);
    }

    #[test]
    fn decimal_forms() {
        assert_eq!(decimal_of(4.0), Some((4, 0)));
        assert_eq!(decimal_of(0.1), Some((1, 1)));
        assert_eq!(decimal_of(0.0005), Some((5, 4)));
        assert_eq!(decimal_of(0.5), Some((5, 1)));
        assert_eq!(decimal_of(0.0), Some((0, 0)));
        assert_eq!(decimal_of(12.25), Some((1225, 2)));
        assert_eq!(decimal_of(1e-7), Some((1, 7)));
        assert_eq!(decimal_of(0.1 + 0.2), Some((3, 1)));
        assert_eq!(decimal_of(-1.0), None);
        assert_eq!(decimal_of(f64::NAN), None);
        assert_eq!(decimal_of(1e300), None);
        assert_eq!(decimal_of(1e-23), None);
        assert_eq!(decimal_of(1.0 / 3.0), None);
        assert_eq!(decimal_of(std::f64::consts::PI), None);
        for (m, e) in [(4, 0), (1, 1), (5, 4), (225, 2)] {
            assert_eq!(decimal_of(decimal_value(m, e)), Some((m, e)));
        }
    }

    #[test]
    fn defaults() {
        let p = UserParams::parse(&[]).unwrap();
        assert_eq!(p, UserParams::default());
        assert_eq!(p.config().mode, Mode::Apr(0.1));
        assert_eq!(p.config().effort, 3);
        assert_eq!(mode_of(&[2]), Mode::Apr(0.1));
        assert_eq!(mode_of(&[1]), Mode::Abs(1.0));
        // A mantissa without exponent means exponent 0.
        assert_eq!(mode_of(&[1, 3]), Mode::Abs(3.0));
        assert_eq!(mode_of(&[2, 3]), Mode::Apr(3.0));
        assert_eq!(UserParams::parse(&[1, 4, 0, 9]).unwrap().config().effort, 9);
    }

    #[test]
    fn rejects_bad_values_with_messages() {
        let e = UserParams::parse(&[3]).unwrap_err();
        assert!(e.0.contains("unknown mode 3"), "{e}");
        let e = UserParams::parse(&[1, 4, 23]).unwrap_err();
        assert!(e.0.contains("exponent"), "{e}");
        let e = UserParams::parse(&[2, 0, 1]).unwrap_err();
        assert!(e.0.contains("E > 0"), "{e}");
        let e = UserParams::parse(&[1, 4, 0, 0]).unwrap_err();
        assert!(e.0.contains("effort"), "{e}");
        let e = UserParams::parse(&[1, 4, 0, 23]).unwrap_err();
        assert!(e.0.contains("effort"), "{e}");
        let e = CdValues::parse(&[1, 4, 0, 3, 7]).unwrap_err();
        assert!(e.0.contains("at most 4"), "{e}");
    }

    #[test]
    fn abs_zero_is_allowed() {
        assert_eq!(mode_of(&[1, 0, 0]), Mode::Abs(0.0));
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
        assert!(CdValues::parse(&v).unwrap_err().0.contains("version 2"));
        // set_local still recovers the user part from a newer layout.
        assert_eq!(CdValues::user_part(&v).unwrap(), UserParams::default());
        let mut v = good.clone();
        v[9] = 3;
        assert!(CdValues::parse(&v).is_err());
        let mut v = good.clone();
        v[8] = 2;
        assert!(CdValues::parse(&v).unwrap_err().0.contains("byte order"));
        let mut v = good.clone();
        v[6] = 2;
        assert!(CdValues::parse(&v).unwrap_err().0.contains("not supported"));
        let mut v = good.clone();
        v[10] = 0;
        assert!(CdValues::parse(&v).is_err());
        let mut v = good;
        v.truncate(9);
        assert!(CdValues::parse(&v).is_err());
    }
}
