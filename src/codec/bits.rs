//! Little-endian bit packing for the raw "extra bits" section and small varints.

use crate::codec::error::{Error, Result};

/// Writes bit fields LSB-first.
#[derive(Default)]
pub struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends the low `nbits` (0..=32) bits of `v`.
    #[inline]
    pub fn put(&mut self, v: u64, nbits: u32) {
        debug_assert!(nbits <= 32);
        if nbits == 0 {
            return;
        }
        self.acc |= (v & ((1u64 << nbits) - 1)) << self.n;
        self.n += nbits;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }
    /// Appends the low `nbits` (0..=64) bits of `v`.
    #[inline]
    pub fn put_wide(&mut self, v: u64, nbits: u32) {
        if nbits > 32 {
            self.put(v, 32);
            self.put(v >> 32, nbits - 32);
        } else {
            self.put(v, nbits);
        }
    }
    pub fn finish(mut self) -> Vec<u8> {
        while self.n > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n = self.n.saturating_sub(8);
        }
        self.out
    }
}

/// Reads what [`BitWriter`] wrote. Reading past the end yields zeros and sets a sticky flag
/// ([`BitReader::finish`] reports it), so the hot path has no error branches.
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
    overrun: bool,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            pos: 0,
            acc: 0,
            n: 0,
            overrun: false,
        }
    }
    /// Tops the buffer up to 57..=64 bits (fewer only at the end of the data). With 8 bytes
    /// left it loads them as one word: the bytes it cannot take yet land above `n` and are the
    /// very bits the next refill ORs in at the same place, so `get` returns the same values.
    #[inline]
    fn refill(&mut self) {
        if self.n <= 56 {
            if let Some(w) = self.data.get(self.pos..self.pos + 8) {
                let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                self.acc |= w << self.n;
                let k = (64 - self.n) / 8;
                self.pos += k as usize;
                self.n += 8 * k;
                return;
            }
        }
        while self.n <= 56 {
            match self.data.get(self.pos) {
                Some(&b) => {
                    self.acc |= (b as u64) << self.n;
                    self.pos += 1;
                    self.n += 8;
                }
                None => break,
            }
        }
    }
    /// Reads `nbits` (0..=32) bits.
    #[inline]
    pub fn get(&mut self, nbits: u32) -> u64 {
        if nbits == 0 {
            return 0;
        }
        if self.n < nbits {
            self.refill();
            if self.n < nbits {
                self.overrun = true;
                self.acc = 0;
                self.n = 0;
                return 0;
            }
        }
        let v = self.acc & ((1u64 << nbits) - 1);
        self.acc >>= nbits;
        self.n -= nbits;
        v
    }
    #[inline]
    pub fn get_wide(&mut self, nbits: u32) -> u64 {
        if nbits > 32 {
            let lo = self.get(32);
            let hi = self.get(nbits - 32);
            lo | (hi << 32)
        } else {
            self.get(nbits)
        }
    }
    /// Error if any read ran past the end, or whole unread bytes remain.
    pub fn finish(&self) -> Result<()> {
        if self.overrun {
            return Err(Error::truncated("extra-bits section ends early"));
        }
        if self.n >= 8 || self.pos != self.data.len() {
            return Err(Error::corrupt("extra-bits section has unread bytes"));
        }
        Ok(())
    }
}

/// LEB128 unsigned varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Cursor over a byte slice with bounds-checked reads.
pub struct Cursor<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }
    pub fn u8(&mut self) -> Result<u8> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or_else(|| Error::truncated("stream ends inside a section header"))?;
        self.pos += 1;
        Ok(b)
    }
    pub fn u32(&mut self) -> Result<u32> {
        let s = self.bytes(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| Error::truncated(format!("section of {n} bytes runs past the end")))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    /// A section prefixed by its u32 length.
    pub fn section(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.bytes(n)
    }
    pub fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::corrupt("varint longer than 64 bits"))
    }
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }
}

/// Appends a u32-length-prefixed section.
pub fn put_section(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn bits_roundtrip() {
        let mut w = BitWriter::new();
        let items: Vec<(u64, u32)> = (0..500u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15), (i % 65) as u32))
            .collect();
        for &(v, n) in &items {
            w.put_wide(v, n);
        }
        let buf = w.finish();
        let mut r = BitReader::new(&buf);
        for &(v, n) in &items {
            let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            assert_eq!(r.get_wide(n), v & mask);
        }
        r.finish().unwrap();
        r.get(32);
        assert!(r.finish().is_err());
    }
    /// Reads of mixed widths against plain bit indexing, for every data length (the word-wise
    /// refill with 8+ bytes left, the byte loop near the end), up to the first read that does
    /// not fit; `finish` accepts a fully consumed buffer (under 8 bits left over).
    #[test]
    fn reads_match_bit_indexing_at_every_length() {
        let data: Vec<u8> = (0..40u32).map(|i| (i * 167 + 13) as u8).collect();
        let bit = |p: usize| (data[p / 8] >> (p % 8)) as u64 & 1;
        for len in 0..=data.len() {
            for step in 1..=33u32 {
                let mut r = BitReader::new(&data[..len]);
                let mut p = 0usize;
                for k in 0..200u32 {
                    let n = (k * step) % 33;
                    if p + n as usize > 8 * len {
                        assert_eq!(r.get(n), 0);
                        assert!(r.finish().is_err());
                        break;
                    }
                    let want = (0..n as usize).fold(0, |a, i| a | bit(p + i) << i);
                    assert_eq!(r.get(n), want, "len {len} step {step} at bit {p}");
                    p += n as usize;
                    if p + 8 > 8 * len {
                        assert!(r.finish().is_ok(), "len {len} at bit {p}");
                    }
                }
            }
        }
    }
    #[test]
    fn varint_roundtrip() {
        let mut out = Vec::new();
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            put_varint(&mut out, v);
        }
        let mut c = Cursor::new(&out);
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(c.varint().unwrap(), v);
        }
        assert!(c.u8().is_err());
    }
}
