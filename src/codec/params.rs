//! Parameters of the APR pipeline (LibAPR `APRParameters`), except `rel_error`,
//! which lives in [`super::Mode::Apr`].

use crate::codec::error::{Error, Result};

/// LibAPR pipeline parameters. `None` thresholds are set automatically from the
/// estimated noise level of the chunk (see `codec::apr`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AprParams {
    /// Smoothing-spline regularisation; <= 0 disables smoothing. LibAPR default 3.0.
    pub lambda: f32,
    /// Floor for the local intensity scale; `None` = automatic.
    pub sigma_th: Option<f32>,
    /// Regions with sigma below both `sigma_th` and this are ignored. Default 0.
    pub sigma_th_max: f32,
    /// Gradients below this are zeroed; `None` = automatic.
    pub grad_th: Option<f32>,
    /// Gradient zeroed where the smoothed intensity is <= this; `None` = automatic (LibAPR default 0).
    pub ip_th: Option<f32>,
    /// Voxel size along (z, x, y).
    pub dz: f32,
    pub dx: f32,
    pub dy: f32,
    /// PSF width in pixels along x (chooses the local-intensity-scale window). Default 2.
    pub psfx: f32,
    /// LibAPR's equivalence optimisation (seeds placed one level finer). Default true.
    pub neighborhood_optimization: bool,
}

impl Default for AprParams {
    fn default() -> Self {
        AprParams {
            lambda: 3.0,
            sigma_th: None,
            sigma_th_max: 0.0,
            grad_th: None,
            ip_th: None,
            dz: 1.0,
            dx: 1.0,
            dy: 1.0,
            psfx: 2.0,
            neighborhood_optimization: true,
        }
    }
}

impl AprParams {
    pub fn validate(&self) -> Result<()> {
        let finite_nonneg = |name: &str, v: f32| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(format!(
                    "apr parameter {name} must be finite and >= 0, got {v}"
                )))
            }
        };
        if !self.lambda.is_finite() {
            return Err(Error::invalid("apr parameter lambda must be finite"));
        }
        for (n, v) in [
            ("sigma_th", self.sigma_th),
            ("grad_th", self.grad_th),
            ("ip_th", self.ip_th),
        ] {
            if let Some(v) = v {
                finite_nonneg(n, v)?;
            }
        }
        finite_nonneg("sigma_th_max", self.sigma_th_max)?;
        for (n, v) in [
            ("dz", self.dz),
            ("dx", self.dx),
            ("dy", self.dy),
            ("psfx", self.psfx),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::invalid(format!(
                    "apr parameter {n} must be finite and > 0, got {v}"
                )));
            }
        }
        Ok(())
    }
}
