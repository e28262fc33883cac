//! Element conversion: little-endian element bytes <-> integer or f64 values.
//!
//! Floats enter the integer domain through an order-preserving bijection of their bits
//! (FORMAT.md §2.4, "ordered integers"), so lossless float coding is integer coding.

use super::DType;

/// Sets every element of `out` (elements of `value.len()` bytes) to `value`: a byte fill
/// when all of `value`'s bytes are equal (zero, the common case), else stores of the element
/// size known to the compiler (no copy call per element).
pub(crate) fn fill_elements(out: &mut [u8], value: &[u8]) {
    fn fill<const N: usize>(out: &mut [u8], value: &[u8]) {
        let v: [u8; N] = value.try_into().expect("element size");
        for e in out.chunks_exact_mut(N) {
            e.copy_from_slice(&v);
        }
    }
    match value.len() {
        0 => {}
        _ if value.iter().all(|&b| b == value[0]) => out.fill(value[0]),
        2 => fill::<2>(out, value),
        4 => fill::<4>(out, value),
        8 => fill::<8>(out, value),
        _ => {
            for e in out.chunks_exact_mut(value.len()) {
                e.copy_from_slice(value);
            }
        }
    }
}

/// Maps float bits to integers whose order matches the float order (bijective).
#[inline]
pub(crate) fn f32_to_ordered(bits: u32) -> i64 {
    let u = if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    };
    (u ^ 0x8000_0000) as i32 as i64
}
#[inline]
pub(crate) fn ordered_to_f32(v: i64) -> u32 {
    let u = (v as i32 as u32) ^ 0x8000_0000;
    if u & 0x8000_0000 != 0 {
        u & 0x7fff_ffff
    } else {
        !u
    }
}
#[inline]
fn f64_to_ordered(bits: u64) -> i64 {
    let u = if bits >> 63 != 0 {
        !bits
    } else {
        bits | (1 << 63)
    };
    (u ^ (1 << 63)) as i64
}
#[inline]
fn ordered_to_f64(v: i64) -> u64 {
    let u = (v as u64) ^ (1 << 63);
    if u >> 63 != 0 {
        u & !(1 << 63)
    } else {
        !u
    }
}

/// Element bytes -> integer domain values (floats via the ordered mapping).
pub fn to_ints(dtype: DType, data: &[u8]) -> Vec<i64> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            data.chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().expect("size")) as i64)
                .collect()
        };
    }
    match dtype {
        DType::U8 => data.iter().map(|&b| b as i64).collect(),
        DType::I8 => data.iter().map(|&b| b as i8 as i64).collect(),
        DType::U16 => conv!(u16, 2),
        DType::I16 => conv!(i16, 2),
        DType::U32 => conv!(u32, 4),
        DType::I32 => conv!(i32, 4),
        DType::F32 => data
            .chunks_exact(4)
            .map(|c| f32_to_ordered(u32::from_le_bytes(c.try_into().expect("4"))))
            .collect(),
        DType::F64 => data
            .chunks_exact(8)
            .map(|c| f64_to_ordered(u64::from_le_bytes(c.try_into().expect("8"))))
            .collect(),
    }
}

/// Inverse of [`to_ints`].
pub fn from_ints(dtype: DType, v: &[i64], out: &mut [u8]) {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            for (o, &x) in out.chunks_exact_mut($n).zip(v) {
                o.copy_from_slice(&(x as $t).to_le_bytes());
            }
        };
    }
    match dtype {
        DType::U8 => conv!(u8, 1),
        DType::I8 => conv!(i8, 1),
        DType::U16 => conv!(u16, 2),
        DType::I16 => conv!(i16, 2),
        DType::U32 => conv!(u32, 4),
        DType::I32 => conv!(i32, 4),
        DType::F32 => {
            for (o, &x) in out.chunks_exact_mut(4).zip(v) {
                o.copy_from_slice(&ordered_to_f32(x).to_le_bytes());
            }
        }
        DType::F64 => {
            for (o, &x) in out.chunks_exact_mut(8).zip(v) {
                o.copy_from_slice(&ordered_to_f64(x).to_le_bytes());
            }
        }
    }
}

/// f32 bits -> f64, exact for every bit pattern: NaNs (signalling ones included) are widened
/// by moving the payload up, not by a float conversion, which would set the quiet bit.
#[inline]
pub(crate) fn widen_f32(bits: u32) -> f64 {
    let x = f32::from_bits(bits);
    if x.is_nan() {
        let sign = ((bits >> 31) as u64) << 63;
        f64::from_bits(sign | (0x7FFu64 << 52) | (((bits & 0x007F_FFFF) as u64) << 29))
    } else {
        x as f64
    }
}

/// f64 -> f32 bits, the inverse of [`widen_f32`] for NaNs (payload moved down, quiet bit as it
/// is); other values are cast. A NaN whose payload would vanish (none made by `widen_f32`)
/// becomes quiet, as the float conversion does.
#[inline]
pub(crate) fn narrow_f32(x: f64) -> u32 {
    if x.is_nan() {
        let bits = x.to_bits();
        let sign = ((bits >> 63) as u32) << 31;
        let mut mant = ((bits >> 29) & 0x007F_FFFF) as u32;
        if mant == 0 {
            mant = 0x0040_0000;
        }
        sign | 0x7F80_0000 | mant
    } else {
        (x as f32).to_bits()
    }
}

/// Element bytes -> f64 values (any dtype). f32 NaNs keep their payload ([`widen_f32`]).
pub fn to_f64s(dtype: DType, data: &[u8]) -> Vec<f64> {
    match dtype {
        DType::F32 => data
            .chunks_exact(4)
            .map(|c| widen_f32(u32::from_le_bytes(c.try_into().expect("4"))))
            .collect(),
        DType::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8")))
            .collect(),
        _ => to_ints(dtype, data).into_iter().map(|x| x as f64).collect(),
    }
}

/// `x.round() as i64` (ties away from zero; NaN -> 0; saturating) without the libm call that
/// `f64::round` becomes on baseline x86-64 (no SSE4.1 `roundsd`). Exact: for |x| < 2^52 the
/// truncation `t` and `x - t` are exact (Sterbenz for |x| >= 1; t = 0 below), so comparing the
/// fraction with +-0.5 decides the tie rule exactly; larger values, infinities and NaN take
/// `f64::round` (they are integers already or saturate).
#[inline(always)]
pub fn round_i64(x: f64) -> i64 {
    if x.abs() < 4_503_599_627_370_496.0 {
        let t = x as i64;
        let d = x - t as f64;
        t + (d >= 0.5) as i64 - (d <= -0.5) as i64
    } else {
        x.round() as i64
    }
}

/// f64 values -> element bytes (floats cast, f32 NaNs by [`narrow_f32`]; integers rounded and
/// clamped).
pub fn from_f64s(dtype: DType, v: &[f64], out: &mut [u8]) {
    match dtype {
        DType::F32 => {
            for (o, &x) in out.chunks_exact_mut(4).zip(v) {
                o.copy_from_slice(&narrow_f32(x).to_le_bytes());
            }
        }
        DType::F64 => {
            for (o, &x) in out.chunks_exact_mut(8).zip(v) {
                o.copy_from_slice(&x.to_le_bytes());
            }
        }
        _ => {
            let (lo, hi) = dtype.int_range();
            let ints: Vec<i64> = v.iter().map(|&x| round_i64(x).clamp(lo, hi)).collect();
            from_ints(dtype, &ints, out);
        }
    }
}

/// Element bytes -> f32 values, equal to `to_f64s(..)` rounded to f32 (one rounding: every
/// supported integer is exact in f64), without the f64 and i64 intermediates.
pub fn to_f32s(dtype: DType, data: &[u8]) -> Vec<f32> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            data.chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().expect("size")) as f64 as f32)
                .collect()
        };
    }
    match dtype {
        DType::U8 => data.iter().map(|&b| b as f32).collect(),
        DType::I8 => data.iter().map(|&b| b as i8 as f32).collect(),
        DType::U16 => conv!(u16, 2),
        DType::I16 => conv!(i16, 2),
        DType::U32 => conv!(u32, 4),
        DType::I32 => conv!(i32, 4),
        DType::F32 => conv!(f32, 4),
        DType::F64 => conv!(f64, 8),
    }
}

/// f32 values -> element bytes, equal to `from_f64s` of the values widened to f64, without
/// the f64 and i64 intermediates.
pub fn from_f32s(dtype: DType, v: &[f32], out: &mut [u8]) {
    let (lo, hi) = if dtype.is_float() {
        (0, 0)
    } else {
        dtype.int_range()
    };
    let int = |x: f32| round_i64(x as f64).clamp(lo, hi);
    // 8- and 16-bit: clamp first, in f32 (the bounds are exact there, and rounding is monotone
    // with integer fixed points, so this equals rounding then clamping; NaN stays NaN and
    // becomes 0 as above), then round ties away with the exact fraction test of `round_i64`
    // (|x| < 2^24 after the clamp). Branch-free, so the loop vectorises.
    let (flo, fhi) = (lo as f32, hi as f32);
    let small = |x: f32| {
        let y = x.clamp(flo, fhi);
        let t = y as i32;
        let d = y - t as f32;
        t + (d >= 0.5) as i32 - (d <= -0.5) as i32
    };
    macro_rules! conv {
        ($n:expr, $f:expr) => {
            for (o, &x) in out.chunks_exact_mut($n).zip(v) {
                o.copy_from_slice(&$f(x).to_le_bytes());
            }
        };
    }
    match dtype {
        DType::U8 => conv!(1, |x| small(x) as u8),
        DType::I8 => conv!(1, |x| small(x) as i8),
        DType::U16 => conv!(2, |x| small(x) as u16),
        DType::I16 => conv!(2, |x| small(x) as i16),
        DType::U32 => conv!(4, |x| int(x) as u32),
        DType::I32 => conv!(4, |x| int(x) as i32),
        DType::F32 => conv!(4, |x: f32| x),
        DType::F64 => conv!(8, |x: f32| x as f64),
    }
}

#[cfg(test)]
mod f32_tests {
    use super::*;

    #[test]
    fn round_i64_equals_f64_round() {
        let two52 = 4_503_599_627_370_496.0f64;
        let mut vals = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.49999999999999994,
            -0.49999999999999994,
            0.5000000000000001,
            1e-300,
            -1e-300,
            two52 - 0.5,
            two52 - 1.5,
            -(two52 - 0.5),
            two52,
            two52 + 1.0,
            9.3e18,
            -9.3e18,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            65535.5,
            65534.5,
            -32768.5,
            255.49999999999997,
        ];
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let m = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let e = (s & 63) as i32 - 8;
            vals.push(m * 2f64.powi(e));
            vals.push((m * 1e5).trunc() + 0.5 * ((s >> 3) & 1) as f64);
            vals.push(f64::from_bits(s));
        }
        for &x in &vals {
            assert_eq!(
                round_i64(x),
                x.round() as i64,
                "x = {x:e} ({:#x})",
                x.to_bits()
            );
        }
    }

    #[test]
    fn f32_conversions_equal_the_f64_paths() {
        let mut vals: Vec<f64> = vec![
            0.0,
            -1.5,
            2.5,
            255.49,
            65535.7,
            -70000.2,
            4.0e9,
            -3.3e9,
            1.0e-3,
            -0.5,
            0.5,
            254.5,
            255.5,
            256.0,
            -128.5,
            -127.5,
            127.5,
            65534.5,
            65535.5,
            -32768.5,
            -32767.5,
            32767.5,
            0.49999997,
            -0.49999997,
            1e30,
            -1e30,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        // Every half-integer and its f32 neighbours across the 8/16-bit ranges.
        for i in -70_000..70_000 {
            let h = i as f32 + 0.5;
            let b = h.to_bits();
            vals.extend([h, f32::from_bits(b + 1), f32::from_bits(b - 1)].map(|v| v as f64));
        }
        for dt in DType::ALL {
            let n = 64;
            let data: Vec<u8> = (0..n * dt.size()).map(|i| (i * 37 % 251) as u8).collect();
            let a: Vec<f32> = to_f64s(dt, &data).into_iter().map(|v| v as f32).collect();
            let b = to_f32s(dt, &data);
            assert_eq!(
                a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                b.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{dt:?}"
            );
            let f: Vec<f32> = vals.iter().map(|&v| v as f32).chain(b).collect();
            let wide: Vec<f64> = f.iter().map(|&v| v as f64).collect();
            let mut o1 = vec![0u8; f.len() * dt.size()];
            let mut o2 = o1.clone();
            from_f64s(dt, &wide, &mut o1);
            from_f32s(dt, &f, &mut o2);
            assert_eq!(o1, o2, "{dt:?}");
        }
    }
}

#[cfg(test)]
mod fill_tests {
    use super::fill_elements;

    #[test]
    fn fill_elements_sets_every_element() {
        for value in [
            &[7u8][..],
            &[0, 0],
            &[1, 2],
            &[9, 9, 9, 9],
            &[1, 0, 0, 0],
            &[0, 0, 0, 0, 0, 0, 0, 0],
            &[1, 2, 3, 4, 5, 6, 7, 8],
        ] {
            let mut out = vec![0xa5u8; value.len() * 37];
            fill_elements(&mut out, value);
            assert!(
                out.chunks_exact(value.len()).all(|e| e == value),
                "{value:?}"
            );
        }
    }
}
