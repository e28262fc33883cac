//! Level pyramid, pulling scheme and particle-cell creation (LibAPR `PullingScheme`,
//! `LinearAccess::initialize_linear_structure`).

use super::cells::ParticleCells;
use super::grid::{dilate, max_pool_u8, Dims};

pub(crate) const EMPTY: u8 = 0;
pub(crate) const SEED: u8 = 1;
pub(crate) const BOUNDARY: u8 = 2;
pub(crate) const FILLER: u8 = 3;
pub(crate) const ASC: u8 = 8;
pub(crate) const PROP: u8 = 15;
pub(crate) const ASC_NB: u8 = 16;

/// Coarsest level holding seeds (LibAPR `level_min`).
pub(crate) const LMIN: u32 = 1;

/// Status arrays `T_l`, `l = LMIN..lmax` (index `l - LMIN`), with their grid shapes.
pub(crate) struct Status {
    pub dims: Vec<Dims>,
    pub t: Vec<Vec<u8>>,
}

/// Runs the pulling scheme from the per-ds-cell levels `lev` (on the level `lmax-1` grid).
/// `shape_of(l)` gives the grid of level `l`. Requires `lmax >= 2`.
pub(crate) fn pulling_scheme(lev: Vec<u8>, lmax: u32, shape_of: impl Fn(u32) -> Dims) -> Status {
    debug_assert!(lmax >= 2);
    let nlev = (lmax - LMIN) as usize; // levels LMIN..=lmax-1
    let dims: Vec<Dims> = (LMIN..lmax).map(&shape_of).collect();
    // level pyramid with max, finest first
    let mut pyr: Vec<Vec<u8>> = vec![Vec::new(); nlev];
    pyr[nlev - 1] = lev;
    for i in (0..nlev - 1).rev() {
        pyr[i] = max_pool_u8(&pyr[i + 1], dims[i + 1]);
        debug_assert_eq!(pyr[i].len(), dims[i].len());
    }
    // seeds
    let mut t: Vec<Vec<u8>> = Vec::with_capacity(nlev);
    for (i, p) in pyr.iter().enumerate() {
        let l = LMIN + i as u32;
        let seed = |v: u8| {
            let v = v as u32;
            if l == lmax - 1 {
                v >= l
            } else if l == LMIN {
                v <= l
            } else {
                v == l
            }
        };
        t.push(
            p.iter()
                .map(|&v| if seed(v) { SEED } else { EMPTY })
                .collect(),
        );
    }
    drop(pyr);
    let mut mask: Vec<u8> = Vec::new();
    let mut tmp: Vec<u8> = Vec::new();
    for i in (0..nlev).rev() {
        let l = LMIN + i as u32;
        let d = dims[i];
        let (lower, upper) = t.split_at_mut(i + 1);
        let cur = &mut lower[i];
        if l < lmax - 1 {
            // (a) ASC cells: EMPTY neighbours -> ASC_NB, SEED neighbours -> PROP
            mask.clear();
            mask.extend(cur.iter().map(|&s| u8::from(s == ASC)));
            dilate(&mut mask, d, &mut tmp);
            for (s, &m) in cur.iter_mut().zip(&mask) {
                if m != 0 {
                    if *s == EMPTY {
                        *s = ASC_NB;
                    } else if *s == SEED {
                        *s = PROP;
                    }
                }
            }
            // (b) ASC_NB / PROP cells: EMPTY children -> FILLER
            let child = &mut upper[0];
            let cd = dims[i + 1];
            for cz in 0..cd.nz {
                for cx in 0..cd.nx {
                    let prow = &cur[((cz / 2) * d.nx + cx / 2) * d.ny..][..d.ny];
                    let crow = &mut child[(cz * cd.nx + cx) * cd.ny..][..cd.ny];
                    for (cy, c) in crow.iter_mut().enumerate() {
                        let ps = prow[cy / 2];
                        if *c == EMPTY && (ps == ASC_NB || ps == PROP) {
                            *c = FILLER;
                        }
                    }
                }
            }
        }
        // (c) SEED/PROP: EMPTY neighbours -> BOUNDARY
        mask.clear();
        mask.extend(cur.iter().map(|&s| u8::from(s == SEED || s == PROP)));
        dilate(&mut mask, d, &mut tmp);
        for (s, &m) in cur.iter_mut().zip(&mask) {
            if m != 0 && *s == EMPTY {
                *s = BOUNDARY;
            }
        }
        // SEED/PROP/ASC mark their parent ASC unless it is a SEED
        if i > 0 {
            mask.clear();
            mask.extend(
                cur.iter()
                    .map(|&s| u8::from(s == SEED || s == PROP || s == ASC)),
            );
            let up = max_pool_u8(&mask, d);
            for (s, &m) in lower[i - 1].iter_mut().zip(&up) {
                if m != 0 && *s != SEED {
                    *s = ASC;
                }
            }
        }
    }
    Status { dims, t }
}

/// Particle cells from the status arrays (equivalence optimisation when `nopt`): cells with
/// status in `[1, t]` are refined once (children at `l+1` are particles), cells in `(t, 3]` are
/// particles at their own level; `t = 1` with the optimisation, else 2.
pub(crate) fn particle_cells(st: &Status, shape: [usize; 3], nopt: bool) -> ParticleCells {
    let tcut = if nopt { SEED } else { BOUNDARY };
    let mut cells = ParticleCells::new(shape);
    for (i, t) in st.t.iter().enumerate() {
        let l = LMIN + i as u32;
        let d = st.dims[i];
        let cd = Dims::from_shape(cells.level_shape(l + 1));
        for z in 0..d.nz {
            for x in 0..d.nx {
                let r = (z * d.nx + x) * d.ny;
                for (y, &s) in t[r..r + d.ny].iter().enumerate() {
                    if s > tcut && s <= FILLER {
                        cells.set_linear(l, r + y);
                    } else if (SEED..=tcut).contains(&s) {
                        let (y0, y1) = (2 * y, (2 * y + 2).min(cd.ny));
                        for cz in (2 * z)..(2 * z + 2).min(cd.nz) {
                            for cx in (2 * x)..(2 * x + 2).min(cd.nx) {
                                let base = (cz * cd.nx + cx) * cd.ny;
                                cells.set_run(l + 1, base + y0, y1 - y0);
                            }
                        }
                    }
                }
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::apr::grid::ceil_shift;

    fn run(shape: [usize; 3], lev: Vec<u8>, nopt: bool) -> (Status, ParticleCells) {
        let lmax = super::super::grid::level_max_for(shape);
        let shape_of = |l: u32| Dims::from_shape(shape.map(|n| ceil_shift(n, lmax - l)));
        let st = pulling_scheme(lev, lmax, shape_of);
        let cells = particle_cells(&st, shape, nopt);
        (st, cells)
    }

    #[test]
    fn hand_example_1d() {
        // 1-D, 16 pixels: Lmax = 4, levels 1..3 with 2, 4, 8 cells. One ds cell (index 5)
        // needs the finest level, the rest needs nothing.
        let mut lev = vec![0u8; 8];
        lev[5] = 3;
        let (st, cells) = run([1, 1, 16], lev, true);
        // level 3: seed at 5, its neighbours 4 and 6 are BOUNDARY; 2, 3, 7 are FILLER
        // (EMPTY children of the level-2 ASC_NB cells 1 and 3)
        assert_eq!(
            st.t[2],
            vec![0, 0, FILLER, FILLER, BOUNDARY, SEED, BOUNDARY, FILLER]
        );
        // level 2: parent 2 of the seed is ASC, its neighbours ASC_NB (1) and (3); cell 0 is
        // the FILLER child of the level-1 PROP cell
        assert_eq!(st.t[1], vec![FILLER, ASC_NB, ASC, ASC_NB]);
        // level 1: cell 0 seeds (lev 0 <= 1)? no: its pyramid value is max(0,0,...) = 0 -> SEED;
        // cell 1 contains the level-3 seed -> ASC; seed 0 neighbours ASC -> PROP
        assert_eq!(st.t[0], vec![PROP, ASC]);
        // (b) level 1 PROP 0 turns its EMPTY children (0, 1) at level 2 into FILLER, but 1 is
        // already ASC_NB; level 2 ASC_NB cells fill their children at level 3.
        // Particles: level 2: cell 0 (FILLER); level 3: 2,3 (children of ASC_NB 1), 4, 6
        // (BOUNDARY), 7 (child of ASC_NB 3); level 4: pixels 10, 11 (refined seed 5).
        let ones = |l: u32| -> Vec<usize> { cells.level_bits(l).iter_ones().collect() };
        assert_eq!(ones(1), Vec::<usize>::new());
        assert_eq!(ones(2), vec![0]);
        assert_eq!(ones(3), vec![2, 3, 4, 6, 7]);
        assert_eq!(ones(4), vec![10, 11]);
        assert!(cells.is_partition());
        assert_eq!(cells.num_particles(), 8);
    }

    #[test]
    fn constant_levels_give_coarse_partition() {
        let (_, cells) = run([1, 1, 16], vec![0u8; 8], true);
        // all level-1 cells are seeds, refined once -> 4 particles at level 2
        assert_eq!(cells.level_bits(2).count_ones(), 4);
        assert_eq!(cells.num_particles(), 4);
        assert!(cells.is_partition());
        // without the optimisation the same (only seeds present)
        let (_, cells) = run([1, 1, 16], vec![0u8; 8], false);
        assert_eq!(cells.num_particles(), 4);
    }

    #[test]
    fn random_levels_always_partition() {
        let mut seed = 12345u64;
        for shape in [
            [1, 1, 37],
            [1, 13, 29],
            [5, 9, 17],
            [8, 8, 8],
            [3, 20, 7],
            [17, 33, 2],
        ] {
            for nopt in [true, false] {
                let lmax = super::super::grid::level_max_for(shape);
                let ds = Dims::from_shape(shape).half();
                let lev: Vec<u8> = (0..ds.len())
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        ((seed >> 33) % (lmax as u64 + 1)) as u8
                    })
                    .collect();
                let (_, cells) = run(shape, lev, nopt);
                assert!(cells.is_partition(), "shape {shape:?} nopt {nopt}");
            }
        }
    }
}
