//! Codec settings: the compression mode and its error bound, the effort, the APR parameters.

use super::AprParams;
use crate::codec::error::{Error, Result};

/// Compression mode. The code stored in the stream is 0, 1, 2 in this order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Bit-exact round trip.
    Lossless,
    /// Pointwise bound: |x - x'| <= bound on every element (integers: floor(bound)).
    Abs(f64),
    /// LibAPR semantics with relative error E (`rel_error`).
    Apr(f64),
    /// Noise mode (format version 3, FORMAT.md §6): |x - x'| <= k * sigma(x) on every element,
    /// sigma(I)^2 = a*I + b fitted by the encoder per tile. Integer dtypes only.
    Noise(f64),
}

impl Mode {
    pub fn code(self) -> u8 {
        match self {
            Mode::Lossless => 0,
            Mode::Abs(_) => 1,
            Mode::Apr(_) => 2,
            Mode::Noise(_) => 3,
        }
    }
    pub fn param(self) -> f64 {
        match self {
            Mode::Lossless => 0.0,
            Mode::Abs(b) => b,
            Mode::Apr(e) => e,
            Mode::Noise(k) => k,
        }
    }
}

/// How apr mode codes a tile (measurements; the default is what the encoder ships).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AprCoding {
    /// Format version 4 (FORMAT.md §7): the particle body (method 3) only where the encoder
    /// verified |I - I'| <= E * sigma_local at every pixel and it is smaller, else the bound
    /// map (method 7; floats: method 8).
    #[default]
    Pointwise,
    /// Format version 4, always the bound map (method 7; floats: method 8). Measurements.
    BoundMap,
    /// Format version 2, particle bodies only (the encoder before version 4). Measurements.
    Particles,
}

/// Codec settings. Build with [`Config::default`] (apr, E = 0.1) or the constructors,
/// then adjust with the `with_*` setters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    pub mode: Mode,
    /// Entropy-coder effort 1..=22 (zstd level of the byte sections); default 3.
    pub effort: i32,
    /// APR pipeline parameters (used by `Mode::Apr`).
    pub apr: AprParams,
    /// Threads for one compress call; 0 (default) = the process setting
    /// ([`crate::codec::set_threads`], else `H5Z_APR_NTHREADS`, else 1). Never changes the bytes.
    pub threads: usize,
    /// apr mode: which coding (measurements only; default [`AprCoding::Pointwise`]).
    #[doc(hidden)]
    pub apr_coding: AprCoding,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Apr(0.1),
            effort: 3,
            apr: AprParams::default(),
            threads: 0,
            apr_coding: AprCoding::Pointwise,
        }
    }
}

impl Config {
    pub fn lossless() -> Self {
        Config {
            mode: Mode::Lossless,
            ..Config::default()
        }
    }
    pub fn abs(bound: f64) -> Self {
        Config {
            mode: Mode::Abs(bound),
            ..Config::default()
        }
    }
    pub fn apr(rel_error: f64) -> Self {
        Config {
            mode: Mode::Apr(rel_error),
            ..Config::default()
        }
    }
    /// Noise mode with factor k (the noise-mode default is 0.5).
    pub fn noise(k: f64) -> Self {
        Config {
            mode: Mode::Noise(k),
            ..Config::default()
        }
    }
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    pub fn with_effort(mut self, effort: i32) -> Self {
        self.effort = effort;
        self
    }
    pub fn with_apr_params(mut self, apr: AprParams) -> Self {
        self.apr = apr;
        self
    }
    /// Threads for compress calls with this config (0 = the process setting).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }
    #[doc(hidden)]
    pub fn with_apr_coding(mut self, c: AprCoding) -> Self {
        self.apr_coding = c;
        self
    }
    /// Checks the settings; every `compress*` call does this first.
    pub fn validate(&self) -> Result<()> {
        match self.mode {
            Mode::Lossless => {}
            Mode::Abs(b) => {
                if !(b.is_finite() && b >= 0.0) {
                    return Err(Error::invalid(format!(
                        "abs bound must be finite and >= 0, got {b}"
                    )));
                }
            }
            Mode::Apr(e) => {
                if !(e.is_finite() && e > 0.0) {
                    return Err(Error::invalid(format!(
                        "apr mode needs a finite relative error E > 0, got {e}"
                    )));
                }
            }
            Mode::Noise(k) => {
                if !(k.is_finite() && k >= 0.0) {
                    return Err(Error::invalid(format!(
                        "noise mode needs a finite factor k >= 0, got {k}"
                    )));
                }
            }
        }
        if !(1..=22).contains(&self.effort) {
            return Err(Error::invalid(format!(
                "effort must be in 1..=22, got {}",
                self.effort
            )));
        }
        self.apr.validate()
    }
}
