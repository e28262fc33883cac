//! Settings as users give them (mode, value, effort) <-> codec [`Config`] <-> the filter's
//! user cd_values (FORMAT.md §3.2). Pure code, no HDF5: the plugin (`h5`), the C API
//! (`capi`) and the `h5z-apr` CLI all go through here, so they share one validation (the
//! codec's [`Config::validate`]) and one set of messages.
//!
//! User cd_values (h5py `compression_opts`, h5repack `UD=47815,flag,n,v1..vn`), all optional:
//!
//! | slot | meaning | default |
//! |---|---|---|
//! | 0 | mode: 0 lossless, 1 abs (pointwise bound), 2 apr (LibAPR `rel_error` E, condition at every pixel), 3 noise (k), 4 apr-particles (E; LibAPR's particle cells, condition not guaranteed) | 2 |
//! | 1 | mantissa m of the mode value v = m x 10^-e | abs: 1, apr and apr-particles: 1, noise: 5 |
//! | 2 | exponent e (0..=22) | abs: 0, apr and apr-particles: 1 (so E = 0.1), noise: 1 (so k = 0.5) |
//! | 3 | entropy-coder effort 1..=22 | 3 |

use crate::codec::{AprCoding, Config, Mode};
use std::fmt;

/// Number of user slots after normalisation.
pub const USER_SLOTS: usize = 4;
/// Largest decimal exponent (10^22 is the largest power of ten exact in f64).
pub const MAX_EXPONENT: u32 = 22;
/// Default entropy effort.
pub const DEFAULT_EFFORT: u32 = 3;

/// Rejected settings or cd_values, with a message meant for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    message: String,
}

impl SettingsError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        SettingsError {
            message: message.into(),
        }
    }
    /// The message without the `h5z-apr cd_values:` prefix of `Display`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<crate::Error> for SettingsError {
    fn from(e: crate::Error) -> Self {
        SettingsError::new(e.message())
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "h5z-apr cd_values: {}", self.message)
    }
}

impl std::error::Error for SettingsError {}

fn err<T>(msg: impl Into<String>) -> Result<T, SettingsError> {
    Err(SettingsError::new(msg))
}

fn unknown_mode(code: i64) -> SettingsError {
    SettingsError::new(format!(
        "unknown mode {code} (0 lossless, 1 abs, 2 apr, 3 noise, 4 apr-particles)"
    ))
}

/// Mode code 4 (apr-particles): apr mode with LibAPR's particle cells in every tile.
pub const MODE_APR_PARTICLES: i64 = 4;

/// The mode a mode code (slot 0, `h5z_apr_params.mode`) and its value select, with the apr
/// coding (code 4 is apr mode coded as particle cells).
pub fn mode_of_code(code: i64, value: f64) -> Result<(Mode, AprCoding), SettingsError> {
    match code {
        0 => Ok((Mode::Lossless, AprCoding::Pointwise)),
        1 => Ok((Mode::Abs(value), AprCoding::Pointwise)),
        2 => Ok((Mode::Apr(value), AprCoding::Pointwise)),
        3 => Ok((Mode::Noise(value), AprCoding::Pointwise)),
        MODE_APR_PARTICLES => Ok((Mode::Apr(value), AprCoding::Particles)),
        m => Err(unknown_mode(m)),
    }
}

/// Settings as a user gives them: a mode with its value, and the effort if one was chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub mode: Mode,
    /// `None`: the default, and no effort slot in the cd_values.
    pub effort: Option<i32>,
    /// apr mode only: [`AprCoding::Pointwise`] (mode code 2, the default) or
    /// [`AprCoding::Particles`] (mode code 4, apr-particles).
    pub apr_coding: AprCoding,
}

impl Settings {
    /// `mode` with the default apr coding (pointwise).
    pub fn new(mode: Mode, effort: Option<i32>) -> Self {
        Settings {
            mode,
            effort,
            apr_coding: AprCoding::Pointwise,
        }
    }

    /// The validated codec configuration.
    pub fn config(&self) -> Result<Config, SettingsError> {
        let effort = self.effort.unwrap_or(DEFAULT_EFFORT as i32);
        let cfg = Config::lossless().with_mode(self.mode).with_effort(effort);
        let cfg = match (self.mode, self.apr_coding) {
            (_, AprCoding::Pointwise) => cfg,
            (Mode::Apr(_), AprCoding::Particles) => cfg.with_apr_coding(AprCoding::Particles),
            (Mode::Apr(_), AprCoding::BoundMap) => {
                return err(
                    "the bound-map-only apr coding is for measurements; it has no cd_values",
                )
            }
            _ => return err("apr-particles (mode 4) needs apr mode"),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The user cd_values: mode, mantissa, exponent (lossless: 0, 0, 0), then the effort slot
    /// if an effort was chosen. Checked to parse back to exactly these settings.
    pub fn cd_values(&self) -> Result<Vec<u32>, SettingsError> {
        let cfg = self.config()?;
        let decimal = |v: f64| {
            decimal_of(v).ok_or_else(|| {
                SettingsError::new(format!(
                    "{v} cannot be written as m x 10^-e with m < 2^32 and e <= {MAX_EXPONENT}; \
                     use fewer significant digits"
                ))
            })
        };
        let mode = match cfg.mode {
            Mode::Lossless => UserMode::Lossless,
            Mode::Abs(v) => {
                let (mantissa, exponent) = decimal(v)?;
                UserMode::Abs { mantissa, exponent }
            }
            Mode::Apr(v) if cfg.apr_coding == AprCoding::Particles => {
                let (mantissa, exponent) = decimal(v)?;
                UserMode::AprParticles { mantissa, exponent }
            }
            Mode::Apr(v) => {
                let (mantissa, exponent) = decimal(v)?;
                UserMode::Apr { mantissa, exponent }
            }
            Mode::Noise(v) => {
                let (mantissa, exponent) = decimal(v)?;
                UserMode::Noise { mantissa, exponent }
            }
        };
        // validate() bounds the effort to 1..=22.
        let user = UserParams {
            mode,
            effort: cfg.effort as u32,
        };
        let n = if self.effort.is_some() { 4 } else { 3 };
        let cd = user.to_slots()[..n].to_vec();
        let back = UserParams::parse(&cd)?;
        if back != user {
            return err(format!(
                "cd_values {cd:?} parse back as {back:?}, not {user:?}"
            ));
        }
        Ok(cd)
    }
}

/// Compression mode with its decimal parameter kept exactly as given (m x 10^-e).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserMode {
    Lossless,
    Abs {
        mantissa: u32,
        exponent: u32,
    },
    Apr {
        mantissa: u32,
        exponent: u32,
    },
    /// Noise mode, factor k = m x 10^-e (default 0.5).
    Noise {
        mantissa: u32,
        exponent: u32,
    },
    /// apr-particles (mode 4): apr mode, E = m x 10^-e, LibAPR's piecewise-constant particle
    /// cells in every tile (format version 2 streams, as h5z-apr 0.2 wrote apr mode); the
    /// condition |I - I'| <= E * sigma_local is LibAPR's target, not a guarantee.
    AprParticles {
        mantissa: u32,
        exponent: u32,
    },
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
    pub fn parse(cd: &[u32]) -> Result<UserParams, SettingsError> {
        if cd.len() > USER_SLOTS {
            return err(format!(
                "{} values given; at most {USER_SLOTS} user values are accepted \
                 (mode, mantissa, exponent, effort)",
                cd.len()
            ));
        }
        let mode_code = cd.first().copied().unwrap_or(2);
        let value = |m_default: u32, e_default: u32| -> Result<(u32, u32), SettingsError> {
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
                UserMode::Apr { mantissa, exponent }
            }
            3 => {
                let (mantissa, exponent) = value(5, 1)?;
                UserMode::Noise { mantissa, exponent }
            }
            4 => {
                let (mantissa, exponent) = value(1, 1)?;
                UserMode::AprParticles { mantissa, exponent }
            }
            m => return Err(unknown_mode(m as i64)),
        };
        let effort = cd.get(3).copied().unwrap_or(DEFAULT_EFFORT);
        if i32::try_from(effort).is_err() {
            return err(format!("effort (slot 3) {effort} is out of range"));
        }
        let user = UserParams { mode, effort };
        // The one check of the values themselves (bound, E, effort): the codec's.
        user.config().validate().map_err(SettingsError::from)?;
        Ok(user)
    }

    /// The normalised 4 user slots.
    pub fn to_slots(&self) -> [u32; USER_SLOTS] {
        match self.mode {
            UserMode::Lossless => [0, 0, 0, self.effort],
            UserMode::Abs { mantissa, exponent } => [1, mantissa, exponent, self.effort],
            UserMode::Apr { mantissa, exponent } => [2, mantissa, exponent, self.effort],
            UserMode::Noise { mantissa, exponent } => [3, mantissa, exponent, self.effort],
            UserMode::AprParticles { mantissa, exponent } => [4, mantissa, exponent, self.effort],
        }
    }

    /// The codec configuration these values select.
    pub fn config(&self) -> Config {
        let cfg = match self.mode {
            UserMode::Lossless => Config::lossless(),
            UserMode::Abs { mantissa, exponent } => Config::abs(decimal_value(mantissa, exponent)),
            UserMode::Apr { mantissa, exponent } => Config::apr(decimal_value(mantissa, exponent)),
            UserMode::Noise { mantissa, exponent } => {
                Config::noise(decimal_value(mantissa, exponent))
            }
            UserMode::AprParticles { mantissa, exponent } => {
                Config::apr(decimal_value(mantissa, exponent)).with_apr_coding(AprCoding::Particles)
            }
        };
        cfg.with_effort(self.effort as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = UserParams::parse(&[5]).unwrap_err();
        assert!(e.message().contains("unknown mode 5"), "{e}");
        let e = UserParams::parse(&[3, 1, 23]).unwrap_err();
        assert!(e.message().contains("exponent"), "{e}");
        let e = UserParams::parse(&[1, 4, 23]).unwrap_err();
        assert!(e.message().contains("exponent"), "{e}");
        let e = UserParams::parse(&[2, 0, 1]).unwrap_err();
        assert!(e.message().contains("E > 0"), "{e}");
        let e = UserParams::parse(&[1, 4, 0, 0]).unwrap_err();
        assert!(e.message().contains("effort"), "{e}");
        let e = UserParams::parse(&[1, 4, 0, 23]).unwrap_err();
        assert!(e.message().contains("effort"), "{e}");
        let e = UserParams::parse(&[1, 4, 0, 3, 7]).unwrap_err();
        assert!(e.message().contains("at most 4"), "{e}");
    }

    #[test]
    fn abs_zero_is_allowed() {
        assert_eq!(mode_of(&[1, 0, 0]), Mode::Abs(0.0));
    }

    #[test]
    fn settings_round_trip_through_cd_values() {
        for (mode, effort) in [
            (Mode::Lossless, None),
            (Mode::Abs(0.5), None),
            (Mode::Abs(4.0), Some(9)),
            (Mode::Abs(0.0005), Some(3)),
            (Mode::Apr(0.1), Some(1)),
            (Mode::Apr(0.25), Some(22)),
        ] {
            let s = Settings::new(mode, effort);
            let cd = s.cd_values().unwrap();
            assert_eq!(cd.len(), 3 + effort.is_some() as usize, "{cd:?}");
            let back = UserParams::parse(&cd).unwrap().config();
            assert_eq!(back, s.config().unwrap(), "{cd:?}");
        }
        let s = |mode| Settings::new(mode, None);
        assert_eq!(s(Mode::Abs(0.5)).cd_values(), Ok(vec![1, 5, 1]));
        assert_eq!(s(Mode::Lossless).cd_values(), Ok(vec![0, 0, 0]));
        assert!(s(Mode::Abs(1.0 / 3.0)).cd_values().is_err());
        assert!(s(Mode::Abs(-1.0)).cd_values().is_err());
        assert!(s(Mode::Apr(0.0)).config().is_err());
        assert!(mode_of_code(5, 1.0).is_err());
        assert_eq!(
            mode_of_code(3, 0.5),
            Ok((Mode::Noise(0.5), AprCoding::Pointwise))
        );
        assert_eq!(
            mode_of_code(4, 0.1),
            Ok((Mode::Apr(0.1), AprCoding::Particles))
        );
    }

    #[test]
    fn noise_mode_cd_values() {
        assert_eq!(mode_of(&[3]), Mode::Noise(0.5));
        assert_eq!(mode_of(&[3, 5, 1]), Mode::Noise(0.5));
        assert_eq!(mode_of(&[3, 25, 2]), Mode::Noise(0.25));
        assert_eq!(mode_of(&[3, 1]), Mode::Noise(1.0));
        assert_eq!(mode_of(&[3, 0, 0]), Mode::Noise(0.0));
        assert_eq!(UserParams::parse(&[3]).unwrap().to_slots(), [3, 5, 1, 3]);
        let s = Settings::new(Mode::Noise(0.5), None);
        assert_eq!(s.cd_values(), Ok(vec![3, 5, 1]));
    }

    /// Mode 4 is apr mode coded as particle cells; it round-trips through cd_values and only
    /// goes with apr mode.
    #[test]
    fn apr_particles_cd_values() {
        let p = UserParams::parse(&[4]).unwrap();
        assert_eq!(p.to_slots(), [4, 1, 1, 3]);
        let cfg = p.config();
        assert_eq!(cfg.mode, Mode::Apr(0.1));
        assert_eq!(cfg.apr_coding, AprCoding::Particles);
        assert_eq!(
            UserParams::parse(&[2, 1, 1]).unwrap().config().apr_coding,
            AprCoding::Pointwise
        );
        let mut s = Settings::new(Mode::Apr(0.2), Some(7));
        s.apr_coding = AprCoding::Particles;
        assert_eq!(s.cd_values(), Ok(vec![4, 2, 1, 7]));
        assert_eq!(s.config().unwrap().apr_coding, AprCoding::Particles);
        s.mode = Mode::Abs(1.0);
        assert!(s.config().is_err());
        assert!(UserParams::parse(&[4, 0, 0]).is_err(), "E must be > 0");
    }
}
