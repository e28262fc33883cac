use super::*;

fn lcg(s: &mut u64) -> u64 {
    *s = s
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *s >> 33
}

/// Smooth field + noise, as little-endian elements of `dtype`.
pub(super) fn field(dtype: DType, shape: [usize; 3], noise: u64, seed: u64) -> Vec<u8> {
    let mut s = seed;
    let (lo, hi) = match dtype {
        DType::F32 => (-1000, 1000),
        d => d.int_range(),
    };
    let span = (hi - lo) as f64;
    let mut out = Vec::new();
    for z in 0..shape[0] {
        for x in 0..shape[1] {
            for y in 0..shape[2] {
                let f = ((z as f64 * 0.3).sin()
                    + (x as f64 * 0.11).cos() * (y as f64 * 0.07).sin())
                    * 0.2
                    + 0.5;
                let nz = if noise > 0 {
                    (lcg(&mut s) % (2 * noise + 1)) as i64 - noise as i64
                } else {
                    0
                };
                let v = ((lo as f64 + f * span) as i64 + nz).clamp(lo, hi);
                match dtype {
                    DType::U8 => out.push(v as u8),
                    DType::I8 => out.push(v as i8 as u8),
                    DType::U16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
                    DType::I16 => out.extend_from_slice(&(v as i16).to_le_bytes()),
                    DType::U32 => out.extend_from_slice(&(v as u32).to_le_bytes()),
                    DType::I32 => out.extend_from_slice(&(v as i32).to_le_bytes()),
                    DType::F32 => out.extend_from_slice(&(v as f32 * 0.37).to_le_bytes()),
                    DType::F64 => out.extend_from_slice(&(v as f64).to_le_bytes()),
                }
            }
        }
    }
    out
}

fn vals(dtype: DType, b: &[u8]) -> Vec<i64> {
    crate::codec::elements::to_ints(dtype, b)
}

const DTYPES: [DType; 7] = [
    DType::U8,
    DType::I8,
    DType::U16,
    DType::I16,
    DType::U32,
    DType::I32,
    DType::F32,
];

const SHAPES: [[usize; 3]; 9] = [
    [1, 1, 1],
    [1, 1, 2],
    [1, 1, 7],
    [1, 5, 3],
    [3, 1, 1],
    [2, 9, 17],
    [5, 8, 8],
    [7, 13, 30],
    [16, 33, 40],
];

#[test]
fn lossless_roundtrip_all_dtypes_and_shapes() {
    for dt in DTYPES {
        for (i, &sh) in SHAPES.iter().enumerate() {
            for noise in [0, 3, 200] {
                let data = field(dt, sh, noise, i as u64 * 31 + noise);
                let Some(body) = encode(&data, dt, sh, &Config::lossless()) else {
                    // Only tiny constant-ish tiles may be refused (expansion guard).
                    let n: usize = sh.iter().product();
                    assert!(n > 1000, "{dt:?} {sh:?} refused");
                    continue;
                };
                let mut out = vec![0u8; data.len()];
                decode(&body, dt, sh, &mut out).unwrap();
                assert_eq!(out, data, "{dt:?} {sh:?} noise {noise}");
            }
        }
    }
}

#[test]
fn abs_roundtrip_bounds_hold() {
    for dt in [
        DType::U8,
        DType::I8,
        DType::U16,
        DType::I16,
        DType::U32,
        DType::I32,
    ] {
        for (i, &sh) in SHAPES.iter().enumerate() {
            for b in [1.0, 2.5, 4.0, 100.0] {
                let data = field(dt, sh, 50, i as u64 + 7);
                let Some(body) = encode(&data, dt, sh, &Config::abs(b)) else {
                    continue;
                };
                let mut out = vec![0u8; data.len()];
                decode(&body, dt, sh, &mut out).unwrap();
                let k = b.floor() as i64;
                for (a, c) in vals(dt, &data).iter().zip(vals(dt, &out)) {
                    assert!((a - c).abs() <= k, "{dt:?} {sh:?} b={b}: {a} vs {c}");
                }
            }
        }
    }
}

#[test]
fn extreme_values_roundtrip() {
    // Full-range jumps: residuals of the widest buckets, clamps at both ends.
    for dt in DTYPES {
        let sh = [4, 9, 11];
        let n: usize = sh.iter().product();
        let mut s = 5u64;
        let (lo, hi) = match dt {
            DType::F32 => (i32::MIN as i64, i32::MAX as i64),
            d => d.int_range(),
        };
        let v: Vec<i64> = (0..n)
            .map(|_| match lcg(&mut s) % 3 {
                0 => lo,
                1 => hi,
                _ => lo + (lcg(&mut s) as i64 % (hi - lo)),
            })
            .collect();
        let mut data = vec![0u8; n * dt.size()];
        crate::codec::elements::from_ints(dt, &v, &mut data);
        for cfg in [Config::lossless(), Config::abs(3.0)] {
            let Some(body) = encode(&data, dt, sh, &cfg) else {
                assert!(dt.is_float());
                continue;
            };
            let mut out = vec![0u8; data.len()];
            decode(&body, dt, sh, &mut out).unwrap();
            if cfg.mode == Mode::Lossless {
                assert_eq!(out, data, "{dt:?}");
            } else {
                for (a, c) in vals(dt, &data).iter().zip(vals(dt, &out)) {
                    assert!((a - c).abs() <= 3, "{dt:?}");
                }
            }
        }
    }
}

#[test]
fn not_applicable_cases() {
    let sh = [2, 3, 4];
    let d = field(DType::F32, sh, 0, 1);
    assert!(encode(&d, DType::F32, sh, &Config::abs(0.5)).is_none());
    assert!(encode(&d, DType::F32, sh, &Config::apr(0.1)).is_none());
    let d = field(DType::F64, sh, 0, 1);
    assert!(encode(&d, DType::F64, sh, &Config::lossless()).is_none());
    let mut out = vec![0u8; d.len()];
    assert!(decode(&[0], DType::F64, sh, &mut out).is_err());
}

#[test]
fn same_predictions_as_method_2() {
    // Method 6 keeps method 2's symbols (only the coder and layout differ), so the sizes
    // stay close: within 1 % + a small constant on a noisy smooth field.
    for dt in [DType::U8, DType::U16, DType::I16, DType::U32] {
        let sh = [16, 64, 64];
        for (noise, k) in [(3u64, 0i64), (40, 0), (40, 4)] {
            let data = field(dt, sh, noise, 9);
            let cfg = if k == 0 {
                Config::lossless()
            } else {
                Config::abs(k as f64)
            };
            let b6 = encode(&data, dt, sh, &cfg).unwrap();
            let b2 = encode_m2(&data, dt, sh, k);
            let mut o2 = vec![0u8; data.len()];
            decode_m2(&b2, dt, sh, k, &mut o2).unwrap();
            let mut o6 = vec![0u8; data.len()];
            decode(&b6, dt, sh, &mut o6).unwrap();
            if k == 0 {
                assert_eq!(o2, o6);
            }
            assert!(
                (b6.len() as f64) < b2.len() as f64 * 1.01 + 64.0,
                "{dt:?} noise {noise} k {k}: m6 {} vs m2 {}",
                b6.len(),
                b2.len()
            );
        }
    }
}

#[test]
fn truncated_and_trailing_bodies_are_rejected() {
    let sh = [5, 17, 19];
    for dt in [DType::U16, DType::I32] {
        let data = field(dt, sh, 30, 3);
        let body = encode(&data, dt, sh, &Config::lossless()).unwrap();
        let mut out = vec![0u8; data.len()];
        for cut in 0..body.len() {
            assert!(decode(&body[..cut], dt, sh, &mut out).is_err(), "cut {cut}");
        }
        let mut long = body.clone();
        long.push(0);
        assert!(decode(&long, dt, sh, &mut out).is_err());
        let mut wrong = vec![0u8; data.len() + dt.size()];
        assert!(decode(&body, dt, sh, &mut wrong).is_err());
    }
}

#[test]
fn lossless_values_outside_the_domain_are_rejected() {
    // A lossless body decoded with a narrower dtype (same shape): values just outside the
    // domain with small residuals (the check after the tile) and residuals too large for the
    // working type (the largest-symbol check).
    let sh = [6, 20, 24];
    let n: usize = sh.iter().product();
    let mut s = 5u64;
    let near: Vec<u8> = (0..n)
        .flat_map(|i| (250 + (i % 7) as u16 + (lcg(&mut s) % 3) as u16).to_le_bytes())
        .collect();
    assert!(vals(DType::U16, &near).iter().any(|&v| v > 255));
    let wide = field(DType::U32, sh, 1000, 6);
    let wide16 = field(DType::I32, sh, 1000, 7);
    for (data, dt, as_dt) in [
        (&near, DType::U16, DType::U8),
        (&near, DType::U16, DType::I8),
        (&wide, DType::U32, DType::U16),
        (&wide, DType::U32, DType::I32),
        (&wide16, DType::I32, DType::I16),
    ] {
        let body = encode(data, dt, sh, &Config::lossless()).unwrap();
        let mut back = vec![0u8; data.len()];
        decode(&body, dt, sh, &mut back).unwrap();
        assert_eq!(&back, data);
        let mut out = vec![0u8; n * as_dt.size()];
        let e = decode(&body, as_dt, sh, &mut out).unwrap_err();
        assert!(
            e.to_string().contains("outside the value domain"),
            "{dt:?} as {as_dt:?}: {e}"
        );
    }
}

#[test]
fn forged_residual_wrapping_into_the_domain_is_rejected() {
    // One-element tile (no passes): the origin is v = 0 + d. d = 50 - 2^32 (symbol 87) is
    // 50 once wrapped to the i32 working type of u16, so only the largest-symbol check can
    // reject it; d = 50 is a valid tile.
    let body = |d: i64| {
        let mut out = Vec::new();
        put_varint(&mut out, 0);
        let mut enc = Rans4Encoder::new(NCTX);
        let mut bits = FastWriter::default();
        put(&mut enc, &mut bits, NB as u8 - 1, d);
        enc.finish(&mut out);
        out.extend_from_slice(&bits.finish());
        out
    };
    let mut out = [0u8; 2];
    decode(&body(50), DType::U16, [1, 1, 1], &mut out).unwrap();
    assert_eq!(u16::from_le_bytes(out), 50);
    let e = decode(&body(50 - (1 << 32)), DType::U16, [1, 1, 1], &mut out).unwrap_err();
    assert!(e.to_string().contains("outside the value domain"), "{e}");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Bit flips and truncation never panic; they decode to an error or to some array.
        #[test]
        fn damaged_bodies_never_panic(
            seed in 0u64..1000, dti in 0usize..7, z in 1usize..5, x in 1usize..20,
            y in 1usize..40, lossless in any::<bool>(), flips in proptest::collection::vec((any::<usize>(), 0u8..8), 1..4),
            cut in any::<usize>(), do_cut in any::<bool>(),
        ) {
            let dt = DTYPES[dti];
            let sh = [z, x, y];
            let data = field(dt, sh, seed % 50, seed);
            let cfg = if lossless || dt.is_float() { Config::lossless() } else { Config::abs(2.0) };
            let Some(mut body) = encode(&data, dt, sh, &cfg) else { return Ok(()); };
            for (pos, bit) in flips {
                let i = pos % body.len();
                body[i] ^= 1 << bit;
            }
            if do_cut {
                body.truncate(cut % (body.len() + 1));
            }
            let mut out = vec![0u8; data.len()];
            let _ = decode(&body, dt, sh, &mut out);
        }

        /// Random data (no structure) round-trips.
        #[test]
        fn random_data_roundtrips(bytes in proptest::collection::vec(any::<u8>(), 1..600), dti in 0usize..7, x in 1usize..5) {
            let dt = DTYPES[dti];
            let n = bytes.len() / dt.size();
            prop_assume!(n >= 1);
            let x = x.min(n);
            let y = n / x;
            let sh = [1, x, y];
            let data = &bytes[..x * y * dt.size()];
            if let Some(body) = encode(data, dt, sh, &Config::lossless()) {
                let mut out = vec![0u8; data.len()];
                decode(&body, dt, sh, &mut out).unwrap();
                prop_assert_eq!(&out[..], data);
            }
        }
    }
}

#[test]
fn random_bodies_never_panic() {
    // Arbitrary bytes (and arbitrary bytes after a valid k / predictor-bit prefix) decode to
    // an error or some array, never a panic.
    let mut s = 99u64;
    for round in 0..3000 {
        let dt = DTYPES[round % DTYPES.len()];
        let sh = [1 + round % 3, 1 + round % 7, 1 + round % 29];
        let len = (lcg(&mut s) % 300) as usize;
        let mut body: Vec<u8> = (0..len).map(|_| lcg(&mut s) as u8).collect();
        if round % 2 == 0 && !body.is_empty() {
            body[0] = 0; // k = 0
            if body.len() > 2 {
                body[2] = 20; // plausible context count after one predictor byte
            }
        }
        let mut out = vec![0u8; sh.iter().product::<usize>() * dt.size()];
        let _ = decode(&body, dt, sh, &mut out);
    }
}

#[test]
fn activity_matches_its_definition() {
    // FORMAT.md §2.4: ACT(a, b) = min(9, bit_length(floor(|a - b| / w))).
    let mut s = 3u64;
    for k in [0i64, 1, 2, 4, 37, 1000, 40000] {
        let q32 = Q::<i32>::new(k, -(1 << 15), (1 << 15) - 1);
        let q64 = Q::<i64>::new(k, -(1 << 31), (1 << 31) - 1);
        for _ in 0..20000 {
            let a = (lcg(&mut s) % 65536) as i64 - 32768;
            let b = (lcg(&mut s) % 65536) as i64 - 32768;
            let t = a.abs_diff(b) / (2 * k as u64 + 1);
            let want = ((64 - t.leading_zeros()) as u8).min(9);
            let got = if k == 0 {
                q32.act::<true>(a as i32, b as i32)
            } else {
                q32.act::<false>(a as i32, b as i32)
            };
            assert_eq!(got, want, "k={k} a={a} b={b}");
            let (a, b) = (a * 65537, b * 65535);
            let t = a.abs_diff(b) / (2 * k as u64 + 1);
            let want = ((64 - t.leading_zeros()) as u8).min(9);
            let got = if k == 0 {
                q64.act::<true>(a, b)
            } else {
                q64.act::<false>(a, b)
            };
            assert_eq!(got, want, "k={k} a={a} b={b}");
        }
    }
}

#[test]
fn row_widths_match_the_block_steps() {
    // Method-7 decoding reads per-point widths (RowSteps) where the encoder looks up blocks
    // (Blocks): same activity and widths at every point of every row of every pass.
    let mut s = 17u64;
    for shape in [[1, 1, 1], [5, 9, 7], [9, 40, 37], [16, 33, 64]] {
        let g = block_grid(shape);
        let nb: usize = g.iter().product();
        let qs: Vec<Q<i32>> = (0..nb)
            .map(|_| Q::new((lcg(&mut s) % 300) as i64, 0, 65535))
            .collect();
        let rw = RowWidths::new(&qs, shape, g);
        let mut rows = vec![(0, 0, 1)];
        for p in passes(shape) {
            let (y0, ys) = row_y(p);
            for_each_row(shape, p, |base, _| rows.push((base, y0, ys)));
        }
        for (base, y0, ys) in rows {
            let m = (shape[2] - y0).div_ceil(ys);
            let (a, b) = (
                rw.row(base, y0, ys).fit(m),
                block_row(&qs, shape, g, base, y0, ys),
            );
            for k in 0..m {
                assert_eq!(a.hw(k), b.hw(k), "{shape:?} row {base} point {k}");
                for _ in 0..8 {
                    let d = (lcg(&mut s) % (1 << (lcg(&mut s) % 18))) as i32;
                    assert_eq!(a.act_d(k, d), b.act_d(k, d), "{shape:?} {base} {k} d={d}");
                }
            }
        }
    }
}

#[test]
fn activity_forms_agree_on_the_domain() {
    // act_w (float exponents for i32), count_ge_w (per-lane step) and count_ge (thresholds
    // w << t, what the encoder's Blocks use) for every d of a 16-bit domain and odd widths
    // up to the largest (2 * 65535 + 1).
    let mut ws: Vec<i64> = (0..40).map(|k| 2 * k + 1).collect();
    ws.extend([
        127, 255, 257, 1023, 4095, 4097, 32767, 32769, 65535, 65537, 131071,
    ]);
    for &w in &ws {
        let q32 = Q::<i32>::new((w - 1) / 2, 0, 65535);
        let q64 = Q::<i64>::new((w - 1) / 2, 0, 1 << 32);
        for d in 0..=65535i32 {
            let want = i32::count_ge(d, &q32.th);
            assert_eq!(i32::act_w(d, w as i32), want, "w={w} d={d}");
            assert_eq!(i32::count_ge_w(d, w as i32), want, "w={w} d={d}");
            let d64 = d as i64 * 65537;
            let want = i64::count_ge(d64, &q64.th);
            assert_eq!(i64::act_w(d64, w), want, "w={w} d={d64}");
        }
    }
}

#[test]
fn reciprocal_quantiser_equals_div_euclid() {
    // Q::div_w (the division-free quantiser) against div_euclid for residuals of values of
    // each domain: every (x, p) pair of 8-bit domains, the extremes and a sample of 16/32-bit
    // ones, and half-widths from 1 up to the span (the largest abs bound the encoder uses).
    fn check(lo: i64, hi: i64, xs: &[i64], ks: &[i64]) -> usize {
        let mut fast = 0;
        for &k in ks {
            let q = Q::<i64>::new(k, lo, hi);
            let w = 2 * k + 1;
            for &x in xs {
                for &p in xs {
                    let v = x - p + k;
                    if let Some(d) = q.div_w(v) {
                        assert_eq!(d, v.div_euclid(w), "[{lo}, {hi}] k={k} x={x} p={p}");
                        fast += 1;
                    }
                }
            }
        }
        fast
    }
    let u8s: Vec<i64> = (0..=255).collect();
    let i8s: Vec<i64> = (-128..=127).collect();
    let ks8: Vec<i64> = (1..=255)
        .step_by(7)
        .chain([2, 4, 127, 128, 254, 255])
        .collect();
    assert!(check(0, 255, &u8s, &ks8) > 0);
    assert!(check(-128, 127, &i8s, &ks8) > 0);
    let mut s = 7u64;
    for (lo, hi) in [
        (0i64, 65535i64),
        (-32768, 32767),
        (0, u32::MAX as i64),
        (i32::MIN as i64, i32::MAX as i64),
    ] {
        let span = hi - lo;
        let mut xs: Vec<i64> = vec![lo, lo + 1, hi - 1, hi, lo + span / 2, 0.clamp(lo, hi)];
        xs.extend((0..60).map(|_| lo + (lcg(&mut s) % (span as u64 + 1)) as i64));
        let mut ks: Vec<i64> = vec![1, 2, 4, 100, 4095, 65535, span / 2, span - 1, span];
        ks.extend((0..20).map(|_| 1 + (lcg(&mut s) % span as u64) as i64));
        ks.retain(|&k| (1..=span).contains(&k));
        let fast = check(lo, hi, &xs, &ks);
        // 16-bit domains always take the reciprocal path.
        if span < 1 << 16 {
            assert_eq!(fast, xs.len() * xs.len() * ks.len());
        }
    }
    // The i32 working type (what 8/16-bit dtypes use) holds the same reciprocal.
    let (a, b) = (Q::<i32>::new(4, 0, 65535), Q::<i64>::new(4, 0, 65535));
    assert_eq!((a.rcp, a.c), (b.rcp, b.c));
    assert!(a.rcp != 0);
}

/// The sums of the first choose_cubic (index loops over y = 9h, 17h, .. along y and
/// every 4th point of the rows across), kept as its reference.
fn cubic_sums_ref<W: Work>(q: &Q<W>, x: &[W], shape: [usize; 3], p: Pass) -> (u64, u64) {
    let h = p.h;
    let ny = shape[2];
    let (mut el, mut ec) = (0u64, 0u64);
    let (_, ys) = row_y(p);
    let st = match p.axis {
        0 => shape[1] * ny * h,
        1 => ny * h,
        _ => h,
    };
    let n = shape[p.axis];
    for_each_row(shape, p, |base, c| {
        let mut acc = |xv: W, a1: W, a0: W, b0: W, b1: W| {
            el += W::adiff(xv, W::lin(a0, b0));
            ec += W::adiff(xv, q.clamp(W::cubic(a1, a0, b0, b1)));
        };
        if p.axis == 2 {
            let r = &x[base..base + ny];
            let mut y = 9 * h;
            while y + 3 * h < ny {
                acc(r[y], r[y - 3 * h], r[y - h], r[y + h], r[y + 3 * h]);
                y += 8 * h;
            }
        } else if c >= 3 * h && c + 3 * h < n {
            let mut y = 0;
            while y < ny {
                let b = base + y;
                acc(x[b], x[b - 3 * st], x[b - st], x[b + st], x[b + 3 * st]);
                y += 4 * ys;
            }
        }
    });
    (el, ec)
}

#[test]
fn choose_cubic_matches_its_reference() {
    // Random values (either choice happens) and smooth fields, every pass of shapes with
    // row lengths around the sampling periods (8h along y, 4 ys across).
    let mut s = 5u64;
    let mut seen = [0usize; 2];
    for shape in [
        [1, 1, 40],
        [3, 5, 17],
        [7, 9, 23],
        [16, 13, 31],
        [9, 33, 15],
        [20, 20, 47],
        [2, 64, 71],
        // Remainders of 7 (sampled) and 6 (not) after the chunks of 8 from y = 6.
        [5, 6, 13],
        [4, 11, 29],
        [6, 7, 20],
        [3, 19, 12],
    ] {
        let n: usize = shape.iter().product();
        for noise in [0u64, 3, 1000] {
            let raw: Vec<i64> = vals(DType::U16, &field(DType::U16, shape, noise, lcg(&mut s)));
            let x32: Vec<i32> = raw.iter().map(|&v| v as i32).collect();
            let x64: Vec<i64> = raw.iter().map(|&v| v * 65537 - (1 << 31)).collect();
            let (q32, q64) = (
                Q::<i32>::new(0, 0, 65535),
                Q::<i64>::new(0, i32::MIN as i64, i32::MAX as i64),
            );
            assert_eq!(x32.len(), n);
            for p in passes(shape) {
                let (el, ec) = cubic_sums(&q32, &x32, shape, p);
                assert_eq!(
                    (el, ec),
                    cubic_sums_ref(&q32, &x32, shape, p),
                    "{shape:?} {p:?}"
                );
                let s64 = cubic_sums(&q64, &x64, shape, p);
                assert_eq!(s64, cubic_sums_ref(&q64, &x64, shape, p), "{shape:?} {p:?}");
                assert_eq!(choose_cubic(&q32, &x32, shape, p), ec < el);
                seen[(ec < el) as usize] += 1;
            }
        }
    }
    assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
}
