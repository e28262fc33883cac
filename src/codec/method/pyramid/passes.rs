//! Visiting order of the pyramid method (FORMAT.md §2.4): passes coarse to fine, the
//! interpolation neighbours of each point, and the per-pass choice linear / cubic.

use super::domain::{Domain, NB};

/// One pass: all points whose coordinate along `axis` is an odd multiple of `h`.
#[derive(Clone, Copy, Debug)]
pub struct Pass {
    pub(crate) h: usize,
    pub(crate) axis: usize,
}

pub fn passes(shape: [usize; 3]) -> Vec<Pass> {
    let m = *shape.iter().max().expect("3 dims");
    let mut h = m.next_power_of_two() / 2;
    let mut v = Vec::new();
    while h >= 1 {
        for (axis, &n) in shape.iter().enumerate() {
            if n > h {
                v.push(Pass { h, axis });
            }
        }
        h /= 2;
    }
    v
}

/// Calls `f(idx, c)` for every point of the pass (c = coordinate along the pass axis).
#[inline(always)]
fn for_each_point(shape: [usize; 3], pass: Pass, mut f: impl FnMut(usize, usize)) {
    let h = pass.h;
    let step = |a: usize| -> (usize, usize) {
        use std::cmp::Ordering::*;
        match a.cmp(&pass.axis) {
            Less => (0, h),
            Equal => (h, 2 * h),
            Greater => (0, 2 * h),
        }
    };
    let (z0, zs) = step(0);
    let (x0, xs) = step(1);
    let (y0, ys) = step(2);
    let (nz, nx, ny) = (shape[0], shape[1], shape[2]);
    for z in (z0..nz).step_by(zs) {
        for x in (x0..nx).step_by(xs) {
            let row = (z * nx + x) * ny;
            for y in (y0..ny).step_by(ys) {
                let c = match pass.axis {
                    0 => z,
                    1 => x,
                    _ => y,
                };
                f(row + y, c);
            }
        }
    }
}

/// Geometry of one pass: axis length, index stride of one step h, the step, predictor choice.
#[derive(Clone, Copy)]
pub struct Line {
    n: usize,
    st: usize,
    h: usize,
    cubic: bool,
}

impl Line {
    /// Geometry of `pass` and the context offset of its level (finest level: NB).
    pub fn of(shape: [usize; 3], pass: Pass, cubic: bool) -> (Line, usize) {
        let g = Line {
            n: shape[pass.axis],
            st: strides(shape)[pass.axis] * pass.h,
            h: pass.h,
            cubic,
        };
        (g, if pass.h == 1 { NB } else { 0 })
    }
}

#[inline(always)]
fn predict<D: Domain>(d: &D, v: &[D::V], idx: usize, c: usize, g: Line) -> (D::V, usize) {
    let Line { n, st, h, cubic } = g;
    let a0 = v[idx - st];
    if c + h < n {
        let b0 = v[idx + st];
        let act = d.activity(a0, b0);
        let p = if cubic && c >= 3 * h && c + 3 * h < n {
            d.cubic(v[idx - 3 * st], a0, b0, v[idx + 3 * st])
        } else {
            d.lin(a0, b0)
        };
        (p, act)
    } else if c >= 3 * h {
        (a0, d.activity(a0, v[idx - 3 * st]))
    } else {
        (a0, 0)
    }
}

/// Visits every point of a pass in the order of [`for_each_point`], calling
/// `step(idx, v[idx], prediction, activity)` and storing its result at `v[idx]`. Identical to calling
/// [`predict`] per point, with the boundary tests hoisted out of the rows (the hot path).
#[inline(always)]
pub fn run_pass<D: Domain>(
    d: &D,
    v: &mut [D::V],
    shape: [usize; 3],
    pass: Pass,
    g: Line,
    mut step: impl FnMut(usize, D::V, D::V, usize) -> D::V,
) {
    let h = pass.h;
    let st = g.st;
    let (nz, nx, ny) = (shape[0], shape[1], shape[2]);
    let (z0, zs) = match pass.axis {
        0 => (h, 2 * h),
        _ => (0, h),
    };
    let (x0, xs) = match pass.axis {
        0 => (0, 2 * h),
        1 => (h, 2 * h),
        _ => (0, h),
    };
    let (y0, ys) = match pass.axis {
        2 => (h, 2 * h),
        _ => (0, 2 * h),
    };
    for z in (z0..nz).step_by(zs) {
        for x in (x0..nx).step_by(xs) {
            let row = (z * nx + x) * ny;
            if pass.axis == 2 {
                // Interior points (3h <= y < ny - 3h) take the fixed fast path.
                for y in (y0..ny).step_by(ys) {
                    let idx = row + y;
                    let (p, act) = if y >= 3 * h && y + 3 * h < ny {
                        let (a0, b0) = (v[idx - st], v[idx + st]);
                        let p = if g.cubic {
                            d.cubic(v[idx - 3 * st], a0, b0, v[idx + 3 * st])
                        } else {
                            d.lin(a0, b0)
                        };
                        (p, d.activity(a0, b0))
                    } else {
                        predict(d, v, idx, y, g)
                    };
                    v[idx] = step(idx, v[idx], p, act);
                }
            } else {
                let c = if pass.axis == 0 { z } else { x };
                let n = g.n;
                if c + h < n {
                    let cubic = g.cubic && c >= 3 * h && c + 3 * h < n;
                    for y in (y0..ny).step_by(ys) {
                        let idx = row + y;
                        let (a0, b0) = (v[idx - st], v[idx + st]);
                        let p = if cubic {
                            d.cubic(v[idx - 3 * st], a0, b0, v[idx + 3 * st])
                        } else {
                            d.lin(a0, b0)
                        };
                        let act = d.activity(a0, b0);
                        v[idx] = step(idx, v[idx], p, act);
                    }
                } else {
                    for y in (y0..ny).step_by(ys) {
                        let idx = row + y;
                        let (p, act) = predict(d, v, idx, c, g);
                        v[idx] = step(idx, v[idx], p, act);
                    }
                }
            }
        }
    }
}

fn strides(shape: [usize; 3]) -> [usize; 3] {
    [shape[1] * shape[2], shape[2], 1]
}

/// Chooses cubic (true) or linear for a pass from the original values.
pub fn choose_cubic<D: Domain>(d: &D, x: &[D::V], shape: [usize; 3], pass: Pass) -> bool {
    let st = strides(shape)[pass.axis] * pass.h;
    let n = shape[pass.axis];
    let h = pass.h;
    let (mut el, mut ec) = (0.0f64, 0.0f64);
    let mut k = 0usize;
    for_each_point(shape, pass, |idx, c| {
        k += 1;
        // Sample: every 4th point is plenty to pick the better interpolant.
        if k & 3 != 0 || !(c >= 3 * h && c + 3 * h < n) {
            return;
        }
        let xv = D::to_f64(x[idx]);
        let l = D::to_f64(d.lin(x[idx - st], x[idx + st]));
        let cu = D::to_f64(d.cubic(x[idx - 3 * st], x[idx - st], x[idx + st], x[idx + 3 * st]));
        el += (xv - l).abs();
        ec += (xv - cu).abs();
    });
    ec < el
}
