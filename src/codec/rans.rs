//! Static multi-context rANS entropy coder (byte-wise renormalisation, 32-bit state).
//!
//! Symbols are small integers (< [`ALPHABET`]); each symbol is coded with the frequency
//! table of its context. Tables are normalised to `1 << PROB_BITS` and stored in the stream.

use super::bits::{put_varint, Cursor};
use crate::codec::error::{Error, Result};

pub const PROB_BITS: u32 = 12;
const PROB_SCALE: u32 = 1 << PROB_BITS;
const RANS_L: u32 = 1 << 23;
/// Largest alphabet a context may use.
pub const ALPHABET: usize = 256;

/// Collects (context, symbol) pairs, then writes tables + rANS bytes.
pub struct Encoder {
    nctx: usize,
    syms: Vec<u16>, // ctx << 8 | sym
    counts: Vec<u32>,
}

impl Encoder {
    pub fn new(nctx: usize) -> Self {
        assert!(nctx <= 256);
        Encoder {
            nctx,
            syms: Vec::new(),
            counts: vec![0; nctx * ALPHABET],
        }
    }
    pub fn with_capacity(nctx: usize, n: usize) -> Self {
        let mut e = Self::new(nctx);
        e.syms.reserve(n);
        e
    }
    #[inline]
    pub fn push(&mut self, ctx: usize, sym: usize) {
        debug_assert!(ctx < self.nctx && sym < ALPHABET);
        self.syms.push(((ctx << 8) | sym) as u16);
        self.counts[ctx * ALPHABET + sym] += 1;
    }

    /// Writes the tables and the rANS payload (u32-length-prefixed) to `out`.
    pub fn finish(self, out: &mut Vec<u8>) {
        let mut freqs = vec![0u32; self.nctx * ALPHABET];
        let mut starts = vec![0u32; self.nctx * ALPHABET];
        out.push(self.nctx as u8);
        for c in 0..self.nctx {
            let cnt = &self.counts[c * ALPHABET..(c + 1) * ALPHABET];
            let f = normalize(cnt);
            let used = f.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1);
            put_varint(out, used as u64);
            let mut acc = 0;
            for s in 0..used {
                put_varint(out, f[s] as u64);
                freqs[c * ALPHABET + s] = f[s];
                starts[c * ALPHABET + s] = acc;
                acc += f[s];
            }
        }
        // Division-free encoding: x / f through a precomputed reciprocal (exact for 32-bit x).
        let syms: Vec<EncSym> = freqs
            .iter()
            .zip(&starts)
            .map(|(&f, &st)| EncSym::new(st, f))
            .collect();
        let mut bytes: Vec<u8> = Vec::with_capacity(self.syms.len() / 2 + 16);
        let mut x: u32 = RANS_L;
        for &cs in self.syms.iter().rev() {
            let e = &syms[(cs >> 8) as usize * ALPHABET + (cs & 0xff) as usize];
            while x >= e.x_max {
                bytes.push(x as u8);
                x >>= 8;
            }
            x = e.put(x);
        }
        bytes.extend_from_slice(&x.to_le_bytes());
        bytes.reverse();
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
}

/// Encoder view of one symbol: `put(x) == ((x / f) << PROB_BITS) + x % f + start`, computed
/// with a multiply by a rounded-up reciprocal of f instead of a division.
#[derive(Clone, Copy)]
struct EncSym {
    x_max: u32,
    rcp: u32,
    shift: u32,
    bias: u32,
    cmpl: u32,
}

impl EncSym {
    fn new(start: u32, f: u32) -> Self {
        let x_max = ((RANS_L >> PROB_BITS) << 8).wrapping_mul(f);
        if f <= 1 {
            // f = 1: q = x; x' = x + start + x * (scale - 1) = (x << bits) + start.
            return EncSym {
                x_max,
                rcp: u32::MAX,
                shift: 0,
                bias: start.wrapping_add(PROB_SCALE - 1),
                cmpl: PROB_SCALE - 1,
            };
        }
        let mut shift = 0;
        while f > (1u32 << shift) {
            shift += 1;
        }
        let rcp = (1u64 << (shift + 31)).div_ceil(f as u64) as u32;
        EncSym {
            x_max,
            rcp,
            shift: shift - 1,
            bias: start,
            cmpl: PROB_SCALE - f,
        }
    }
    #[inline(always)]
    fn put(&self, x: u32) -> u32 {
        let q = (((x as u64) * (self.rcp as u64)) >> 32) as u32 >> self.shift;
        x.wrapping_add(self.bias)
            .wrapping_add(q.wrapping_mul(self.cmpl))
    }
}

/// Scales counts to sum PROB_SCALE, every used symbol >= 1.
fn normalize(cnt: &[u32]) -> Vec<u32> {
    let total: u64 = cnt.iter().map(|&c| c as u64).sum();
    let mut f = vec![0u32; cnt.len()];
    if total == 0 {
        return f;
    }
    let mut sum = 0i64;
    for (i, &c) in cnt.iter().enumerate() {
        if c > 0 {
            let v = ((c as u64 * PROB_SCALE as u64 + total / 2) / total).max(1) as u32;
            f[i] = v;
            sum += v as i64;
        }
    }
    // Fix the sum by adjusting the largest entries (never below 1).
    let mut diff = PROB_SCALE as i64 - sum;
    while diff != 0 {
        let (imax, _) = f
            .iter()
            .enumerate()
            .max_by_key(|&(_, &v)| v)
            .expect("non-empty");
        if diff > 0 {
            f[imax] += diff as u32;
            diff = 0;
        } else {
            let take = (-diff).min(f[imax] as i64 - 1);
            if take == 0 {
                // all ones: cannot happen with <= ALPHABET < PROB_SCALE symbols
                break;
            }
            f[imax] -= take as u32;
            diff += take;
        }
    }
    f
}

/// Decoding side: tables read from the stream, then symbols pulled one by one.
///
/// Symbol reads are infallible for speed: damage (an empty context, running out of payload)
/// sets a sticky flag that [`Decoder::finish`] reports, so corrupt input still ends in an error.
pub struct Decoder<'a> {
    /// Per context, PROB_SCALE entries: sym | (freq-1) << 8 | start << 20; u32::MAX = empty.
    slots: Vec<u32>,
    data: &'a [u8],
    pos: usize,
    x: u32,
    bad: bool,
}

const EMPTY: u32 = u32::MAX;

impl<'a> Decoder<'a> {
    /// Reads the tables and the payload section from `cur`.
    pub fn new(cur: &mut Cursor<'a>, expect_nctx: usize) -> Result<Self> {
        let nctx = cur.u8()? as usize;
        if nctx != expect_nctx {
            return Err(Error::corrupt(format!(
                "entropy section has {nctx} contexts, expected {expect_nctx}"
            )));
        }
        let mut slots = vec![EMPTY; nctx * PROB_SCALE as usize];
        for c in 0..nctx {
            let used = cur.varint()? as usize;
            if used > ALPHABET {
                return Err(Error::corrupt("entropy table alphabet too large"));
            }
            if used == 0 {
                continue;
            }
            let mut acc = 0u32;
            for s in 0..used {
                let f = cur.varint()?;
                if f > PROB_SCALE as u64 || acc as u64 + f > PROB_SCALE as u64 {
                    return Err(Error::corrupt("entropy table frequencies exceed the scale"));
                }
                let f = f as u32;
                let base = c * PROB_SCALE as usize;
                if f > 0 {
                    let e = s as u32 | (f - 1) << 8 | acc << 20;
                    slots[base + acc as usize..base + (acc + f) as usize].fill(e);
                }
                acc += f;
            }
            if acc != PROB_SCALE {
                return Err(Error::corrupt(
                    "entropy table frequencies do not sum to the scale",
                ));
            }
        }
        let data = cur.section()?;
        if data.len() < 4 {
            return Err(Error::truncated("rANS payload shorter than its state"));
        }
        let x = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        Ok(Decoder {
            slots,
            data,
            pos: 4,
            x,
            bad: false,
        })
    }

    /// Decodes one symbol of context `ctx` (< the number of contexts).
    #[inline]
    pub fn get(&mut self, ctx: usize) -> usize {
        let slot = self.x & (PROB_SCALE - 1);
        let e = self.slots[ctx * PROB_SCALE as usize + slot as usize];
        if e == EMPTY {
            self.bad = true;
            return 0;
        }
        let f = ((e >> 8) & 0xfff) + 1;
        let start = e >> 20;
        self.x = f * (self.x >> PROB_BITS) + slot - start;
        while self.x < RANS_L {
            match self.data.get(self.pos) {
                Some(&b) => {
                    self.pos += 1;
                    self.x = (self.x << 8) | b as u32;
                }
                None => {
                    self.bad = true;
                    self.x = RANS_L;
                }
            }
        }
        (e & 0xff) as usize
    }

    /// Records damage found by the caller (e.g. a symbol invalid in its place).
    #[inline]
    pub fn mark_bad(&mut self) {
        self.bad = true;
    }

    /// Checks that no damage was seen, the whole payload was consumed and the state returned
    /// to its start.
    pub fn finish(&self) -> Result<()> {
        if self.bad || self.x != RANS_L || self.pos != self.data.len() {
            return Err(Error::corrupt(
                "entropy-coded section is damaged or does not end where the symbols do",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_contexts() {
        let mut e = Encoder::new(3);
        let mut seq = Vec::new();
        let mut s: u64 = 12345;
        for i in 0..20000 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let ctx = i % 3;
            let sym = match ctx {
                0 => 0,
                1 => ((s >> 40) % 4) as usize,
                _ => ((s >> 33) % 200) as usize,
            };
            e.push(ctx, sym);
            seq.push((ctx, sym));
        }
        let mut out = Vec::new();
        e.finish(&mut out);
        let mut cur = Cursor::new(&out);
        let mut d = Decoder::new(&mut cur, 3).unwrap();
        for &(ctx, sym) in &seq {
            assert_eq!(d.get(ctx), sym);
        }
        d.finish().unwrap();
        // Constant context 0 costs nearly nothing: total well below 8 bits * count.
        assert!(out.len() < 20000, "{}", out.len());
    }

    #[test]
    fn reciprocal_encoding_equals_division() {
        let mut s = 99u64;
        for f in (1..=PROB_SCALE).step_by(7).chain([1, 2, 3, 4095, 4096]) {
            let st = (PROB_SCALE - f) / 2;
            let e = EncSym::new(st, f);
            for _ in 0..300 {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Any state the encoder can hold before the update: RANS_L <= x < x_max.
                let span = e.x_max.wrapping_sub(RANS_L).max(1) as u64;
                let x = RANS_L + ((s >> 20) % span) as u32;
                if f == PROB_SCALE && x >= e.x_max {
                    continue;
                }
                assert_eq!(e.put(x), ((x / f) << PROB_BITS) + x % f + st, "f={f} x={x}");
            }
        }
    }

    #[test]
    fn empty_stream() {
        let e = Encoder::new(2);
        let mut out = Vec::new();
        e.finish(&mut out);
        let mut cur = Cursor::new(&out);
        let d = Decoder::new(&mut cur, 2).unwrap();
        d.finish().unwrap();
    }

    #[test]
    fn normalize_sums() {
        let mut c = vec![0u32; ALPHABET];
        for (i, v) in c.iter_mut().enumerate() {
            *v = if i % 3 == 0 {
                1
            } else {
                1_000_000 * (i as u32 % 7)
            };
        }
        let f = normalize(&c);
        assert_eq!(f.iter().sum::<u32>(), PROB_SCALE);
        assert!(c.iter().zip(&f).all(|(&c, &f)| (c == 0) == (f == 0)));
    }
}
