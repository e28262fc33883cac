//! Symbol coding shared by the entropy-coded methods (FORMAT.md §2.4): signed residuals are
//! zigzagged, then split into a bucket symbol (rANS-coded) and raw extra bits.

use super::bits::BitReader;
use super::rans::Decoder;

/// Escape symbol: one past the largest bucket symbol (149, for `u64::MAX`). The pyramid
/// method uses it for an unpredictable float stored verbatim; [`unbucket`] marks it as damage.
pub const ESC: usize = 150;

/// Bucketed representation of a zigzagged residual: symbol + raw extra bits.
#[inline]
pub fn bucket(u: u64) -> (usize, u32, u64) {
    if u < 32 {
        (u as usize, 0, 0)
    } else {
        let e = 63 - u.leading_zeros();
        let sym = 32 + (e as usize - 5) * 2 + ((u >> (e - 1)) & 1) as usize;
        (sym, e - 1, u & ((1u64 << (e - 1)) - 1))
    }
}

#[inline]
pub fn unbucket(sym: usize, dec: &mut Decoder, bits: &mut BitReader) -> u64 {
    if sym < 32 {
        return sym as u64;
    }
    if sym >= ESC {
        dec.mark_bad();
        return 0;
    }
    let e = ((sym - 32) / 2 + 5) as u32;
    let top = 2 | ((sym - 32) & 1) as u64;
    let extra = bits.get_wide(e - 1);
    (top << (e - 1)) | extra
}

#[inline]
pub fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}
#[inline]
pub fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::super::bits::BitWriter;
    use super::super::bits::Cursor;
    use super::super::rans::Encoder;
    use super::*;

    #[test]
    fn bucket_roundtrip() {
        for u in (0..5000u64).chain([u64::MAX, u64::MAX - 1, 1 << 40, (1 << 33) + 5]) {
            let (sym, nb, extra) = bucket(u);
            assert!(sym < ESC);
            let mut w = BitWriter::new();
            w.put_wide(extra, nb);
            let buf = w.finish();
            let mut r = BitReader::new(&buf);
            let mut enc = Encoder::new(1);
            enc.push(0, 0);
            let mut tbl = Vec::new();
            enc.finish(&mut tbl);
            let mut cur = Cursor::new(&tbl);
            let mut dec = Decoder::new(&mut cur, 1).unwrap();
            assert_eq!(unbucket(sym, &mut dec, &mut r), u);
        }
    }
}
