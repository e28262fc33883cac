//! Interleaved static multi-context rANS (candidate entropy coder for format v2).
//!
//! - `LANES` (4 or 8) independent 32-bit states; symbol `i` is coded by lane `i % LANES`, so
//!   consecutive symbols have independent state dependency chains (instruction-level
//!   parallelism) while the caller still chooses the context of every symbol from values it
//!   has already decoded: decoding is `dec.decode(ctx)` in strict symbol order.
//! - States live in `[2^16, 2^32)`; renormalisation moves one 16-bit word (at most one per
//!   symbol); [`Decoder::decode_many`] does it branch-free.
//! - Per-context frequency tables are normalised to `2^PB` (PB <= 12). The decoder uses one
//!   packed `u32` per slot: `(freq - 1) | (slot - start) << 12 | sym << 24`, so a decode step is
//!   one load, one multiply and a few adds.
//! - The encoder collects (context, symbol) pairs, then codes them in reverse; the decoder reads
//!   forward. Encoding is division-free (64-bit reciprocal, exact for every 32-bit state).
//!
//! Byte layout written by [`Encoder::finish`] (all varints are LEB128):
//!
//! ```text
//! varint nctx
//! per context: varint n = 1 + largest symbol used (0 = context unused), then for symbols
//!              0 .. n-2: varint f (f = 0 is followed by varint r: r + 1 absent symbols in a
//!              row, r included in the run); the frequency of symbol n-1 is implied
//!              (2^PB - sum of the others, must be >= 1).
//! varint payload length in bytes (= 4 * LANES + 2 * words)
//! payload: LANES u32 LE initial decoder states, then u16 LE renormalisation words
//! ```
//!
//! Robustness: every table is validated when read; symbol decoding never panics and never reads
//! outside the payload. Damage (an unused context, running out of words) sets a sticky flag, and
//! [`Decoder::finish`] rejects the stream unless no damage was seen, every lane is back in its
//! initial state and the payload was consumed exactly.

use crate::codec::error::{Error, Result};

/// Largest alphabet.
pub const ALPHABET: usize = 256;
/// Lower bound of the state interval.
const L: u32 = 1 << 16;
/// Decoder slot value for contexts without a table: `f - 1 = 0` with `slot - start = 4095`,
/// impossible for a real entry (`slot - start < f`). (Not `u32::MAX`: that is the real entry
/// of symbol 255 at slot 4095 of a single-symbol context.)
const EMPTY: u32 = 0xfff << 12 | 0xff << 24;
// EMPTY decodes as symbol 255: what [`Decoder::decode_many_no255`] relies on.
const _: () = assert!(EMPTY >> 24 == 0xff);

/// Default configuration (chosen from the measurements in `rans4::tests::bench_compare` and
/// `benches/entropy.rs`): 4 lanes, 12-bit probabilities.
pub type Rans4Encoder = Encoder<4, 12>;
/// Decoder matching [`Rans4Encoder`].
pub type Rans4Decoder<'a> = Decoder<'a, 4, 12>;

/// Collects (context, symbol) pairs, then writes tables + payload.
pub struct Encoder<const LANES: usize, const PB: u32> {
    nctx: usize,
    syms: Vec<u16>, // ctx << 8 | sym; counted in `finish`
}

impl<const LANES: usize, const PB: u32> Encoder<LANES, PB> {
    const CHECK: () = assert!(
        LANES.is_power_of_two() && LANES <= 32 && PB >= 8 && PB <= 12,
        "LANES must be a power of two, 8 <= PB <= 12"
    );

    /// Encoder for contexts `0 .. nctx` (nctx <= 256).
    pub fn new(nctx: usize) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECK;
        assert!(nctx <= 256, "at most 256 contexts");
        Encoder {
            nctx,
            syms: Vec::new(),
        }
    }

    pub fn with_capacity(nctx: usize, n: usize) -> Self {
        let mut e = Self::new(nctx);
        e.syms.reserve(n);
        e
    }

    /// Number of symbols pushed so far.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// Appends symbol `sym` coded with context `ctx` (< nctx; panics otherwise: caller bug).
    #[inline(always)]
    pub fn push(&mut self, ctx: usize, sym: u8) {
        assert!(ctx < self.nctx, "context out of range");
        self.syms.push(((ctx << 8) | sym as usize) as u16);
    }

    /// Appends the symbols `sym[i]` coded with contexts `ctx[i]` (same length; every context
    /// < nctx, else [`Encoder::finish`] panics: caller bug). One capacity check per call.
    #[inline(always)]
    pub fn push_row(&mut self, ctx: &[u8], sym: &[u8]) {
        assert_eq!(ctx.len(), sym.len(), "one context per symbol");
        self.syms.extend(
            ctx.iter()
                .zip(sym)
                .map(|(&c, &s)| (c as u16) << 8 | s as u16),
        );
    }

    /// Writes tables and payload to `out`.
    pub fn finish(self, out: &mut Vec<u8>) {
        let m = 1u32 << PB;
        put_varint(out, self.nctx as u64);
        // Counts per (ctx << 8 | sym): a table of 2^16 so the u16 keys index it unchecked.
        let mut counts = vec![0u32; 1 << 16];
        {
            let cs: &mut [u32; 1 << 16] = (&mut counts[..]).try_into().expect("2^16");
            for &k in &self.syms {
                cs[k as usize] += 1;
            }
        }
        assert!(
            counts[self.nctx * ALPHABET..].iter().fold(0, |a, &c| a | c) == 0,
            "context out of range"
        );
        // A power-of-two number of contexts' entries: code_reverse masks the keys (every
        // key indexes a context < nctx, checked above) instead of a bounds check per symbol.
        let mut tab = vec![EncSym::default(); self.nctx.next_power_of_two() * ALPHABET];
        for c in 0..self.nctx {
            let cnt = &counts[c * ALPHABET..(c + 1) * ALPHABET];
            let f = normalize(cnt, m);
            let n = f.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1);
            put_varint(out, n as u64);
            let mut s = 0;
            while s + 1 < n {
                put_varint(out, f[s] as u64);
                if f[s] == 0 {
                    let mut r = 0;
                    while s + 1 + r + 1 < n && f[s + 1 + r] == 0 {
                        r += 1;
                    }
                    put_varint(out, r as u64);
                    s += r;
                }
                s += 1;
            }
            let mut start = 0;
            for (s, &fs) in f.iter().enumerate().take(n) {
                if fs > 0 {
                    tab[c * ALPHABET + s] = EncSym::new(start, fs, PB);
                }
                start += fs;
            }
        }
        // Coded in reverse; the renormalisation words are written back to front into the
        // symbol buffer itself: when symbol i is coded, at most len - 1 - i words have been
        // written (one per symbol at most), so the next one goes to index >= i, which is
        // already consumed. syms[w..] then holds the words in the decoder's (forward) order.
        let mut buf = self.syms;
        let (x, w) = code_reverse::<LANES>(&mut buf, &tab);
        let words = &buf[w..];
        let len = 4 * LANES + 2 * words.len();
        put_varint(out, len as u64);
        out.reserve(len);
        for s in x {
            out.extend_from_slice(&s.to_le_bytes());
        }
        let start = out.len();
        out.resize(start + 2 * words.len(), 0);
        for (o, w) in out[start..].chunks_exact_mut(2).zip(words) {
            o.copy_from_slice(&w.to_le_bytes());
        }
    }
}

/// Codes the keys of `buf` in reverse with `tab` (a power-of-two length: keys are masked),
/// symbol i by lane i % LANES; returns the final states and the index `w` from which `buf`
/// holds the renormalisation words in the decoder's order. Whole groups of LANES symbols (lane = position in the group, a constant
/// after unrolling, so the states stay in registers), the partial last group first; its own
/// function so the loop has the registers to itself.
#[inline(never)]
fn code_reverse<const LANES: usize>(buf: &mut [u16], tab: &[EncSym]) -> ([u32; LANES], usize) {
    let n = buf.len();
    let mut w = n;
    let mut x = [L; LANES];
    let mask = tab.len() - 1;
    let tab = &tab[..=mask];
    // Branch-free renormalisation (the branch is taken with the probability of a word, i.e.
    // unpredictable): the low half is always stored at w - 1 and kept only if needed. w - 1
    // >= i when symbol i is coded (see Encoder::finish), so the slot is a consumed key or
    // the word itself, never a word already written (those are at w..).
    let mut step = |buf: &mut [u16], s: u32, key: u16| -> u32 {
        let e = &tab[key as usize & mask];
        let need = (s > e.xmax) as u32;
        buf[w - 1] = s as u16;
        w -= need as usize;
        e.put(s >> (need << 4))
    };
    let full = n / LANES;
    if n % LANES != 0 {
        for l in (0..LANES).rev() {
            let i = full * LANES + l;
            if i < n {
                let key = buf[i];
                x[l] = step(buf, x[l], key);
            }
        }
    }
    for g in (0..full).rev() {
        let keys: [u16; LANES] = buf[g * LANES..(g + 1) * LANES].try_into().expect("group");
        for l in (0..LANES).rev() {
            x[l] = step(buf, x[l], keys[l]);
        }
    }
    (x, w)
}

/// Encoder view of one symbol: `put(x) == ((x / f) << PB) + x % f + start`, with the quotient
/// from a 64-bit reciprocal instead of a division.
#[derive(Clone, Copy, Default)]
struct EncSym {
    rcp: u64,
    /// Renormalise before coding iff the state is > xmax = (f << (32 - PB)) - 1 (for
    /// f = 2^PB: 2^32 - 1, never).
    xmax: u32,
    bias: u32,
    cmpl: u32,
}

impl EncSym {
    fn new(start: u32, f: u32, pb: u32) -> Self {
        let m = 1u32 << pb;
        if f == 1 {
            // q = hi(x * (2^64 - 1)) = x - 1 for x >= 1; x + bias + q * (m - 1) = x * m + start.
            EncSym {
                rcp: u64::MAX,
                xmax: (1u32 << (32 - pb)) - 1,
                bias: start + m - 1,
                cmpl: m - 1,
            }
        } else {
            // rcp = floor(2^64 / f) + 1 = 2^64 / f + e, 0 < e <= 1: x * e / 2^64 < 2^-32 never
            // lifts x / f (fractional part <= 1 - 1/f) across an integer, so q = floor(x / f).
            EncSym {
                rcp: (u64::MAX / f as u64) + 1,
                xmax: ((u64::from(f) << (32 - pb)) - 1) as u32,
                bias: start,
                cmpl: m - f,
            }
        }
    }
    #[inline(always)]
    fn put(&self, x: u32) -> u32 {
        let q = ((x as u128 * self.rcp as u128) >> 64) as u32;
        x.wrapping_add(self.bias)
            .wrapping_add(q.wrapping_mul(self.cmpl))
    }
}

/// Scales counts to frequencies summing to `m`, every used symbol >= 1, with the rounding
/// error distributed where it costs the fewest bits.
fn normalize(cnt: &[u32], m: u32) -> Vec<u32> {
    let total: u64 = cnt.iter().map(|&c| c as u64).sum();
    let mut f = vec![0u32; cnt.len()];
    if total == 0 {
        return f;
    }
    let mut sum = 0i64;
    for (fi, &c) in f.iter_mut().zip(cnt) {
        if c > 0 {
            *fi = ((c as u64 * m as u64 + total / 2) / total).max(1) as u32;
            sum += *fi as i64;
        }
    }
    let cost = |c: u32, a: u32, b: u32| c as f64 * ((a as f64).ln() - (b as f64).ln());
    // Every step moves the sum one towards m, so the direction is fixed. Bits lost (up to a
    // constant factor) by moving f_i one step towards the target, per used symbol, kept up
    // to date for the one symbol a step changes (the same values the step's scan over all
    // symbols would compute: the choice, first smallest loss, is the same).
    let down = sum > m as i64;
    let loss = |fi: u32, c: u32| {
        if !down {
            -cost(c, fi + 1, fi)
        } else if fi <= 1 {
            f64::INFINITY // cannot go below 1
        } else {
            cost(c, fi, fi - 1)
        }
    };
    let used: Vec<usize> = (0..cnt.len()).filter(|&i| cnt[i] > 0).collect();
    let mut d: Vec<f64> = used.iter().map(|&i| loss(f[i], cnt[i])).collect();
    while sum != m as i64 {
        let mut best = usize::MAX;
        let mut best_cost = f64::INFINITY;
        for (k, &dk) in d.iter().enumerate() {
            if dk < best_cost {
                best_cost = dk;
                best = k;
            }
        }
        if best == usize::MAX {
            break; // cannot happen: <= 256 used symbols < m
        }
        let i = used[best];
        if down {
            f[i] -= 1;
            sum -= 1;
        } else {
            f[i] += 1;
            sum += 1;
        }
        d[best] = loss(f[i], cnt[i]);
    }
    f
}

/// Decoding side: tables read from the stream, then symbols pulled one by one.
pub struct Decoder<'a, const LANES: usize, const PB: u32> {
    /// Per context `2^PB` packed slots (see the module docs), [`EMPTY`] for unused contexts.
    tab: Vec<u32>,
    /// Renormalisation words not read yet (u16 LE).
    words: &'a [u8],
    x: [u32; LANES],
    i: usize,
    bad: bool,
}

impl<'a, const LANES: usize, const PB: u32> Decoder<'a, LANES, PB> {
    const MASK: u32 = (1 << PB) - 1;

    /// Reads tables and payload from the start of `buf`; returns the decoder and the bytes
    /// after the section. `expect_nctx` is the number of contexts the caller will use.
    pub fn new(buf: &'a [u8], expect_nctx: usize) -> Result<(Self, &'a [u8])> {
        #[allow(clippy::let_unit_value)]
        let () = Encoder::<LANES, PB>::CHECK;
        let m = 1u32 << PB;
        let mut r = Reader {
            buf,
            pos: 0,
            truncated: "entropy table truncated",
        };
        let nctx = r.varint()?;
        if nctx != expect_nctx as u64 {
            return Err(Error::corrupt(format!(
                "entropy section has {nctx} contexts, expected {expect_nctx}"
            )));
        }
        let nctx = expect_nctx;
        let mut tab = vec![EMPTY; nctx << PB];
        let mut f = [0u32; ALPHABET];
        for slots in tab.chunks_exact_mut(m as usize) {
            let n = r.varint()?;
            if n > ALPHABET as u64 {
                return Err(Error::corrupt("entropy table alphabet larger than 256"));
            }
            let n = n as usize;
            if n == 0 {
                continue;
            }
            let mut sum = 0u64;
            let mut s = 0;
            while s + 1 < n {
                let v = r.varint()?;
                if v == 0 {
                    let run = r.varint()?;
                    if run >= (n - 1 - s) as u64 {
                        return Err(Error::corrupt("entropy table zero run too long"));
                    }
                    let run = run as usize;
                    f[s..=s + run].fill(0);
                    s += run + 1;
                    continue;
                }
                sum += v;
                if sum >= m as u64 {
                    return Err(Error::corrupt("entropy table frequencies exceed the scale"));
                }
                f[s] = v as u32;
                s += 1;
            }
            f[n - 1] = m - sum as u32; // >= 1 by the check above
            let mut start = 0u32;
            for (sym, &fs) in f.iter().enumerate().take(n) {
                if fs > 0 {
                    let e = (fs - 1) | (sym as u32) << 24;
                    for (off, slot) in slots[start as usize..(start + fs) as usize]
                        .iter_mut()
                        .enumerate()
                    {
                        *slot = e | (off as u32) << 12;
                    }
                }
                start += fs;
            }
        }
        let len = r.varint()?;
        if len > (r.buf.len() - r.pos) as u64 {
            return Err(Error::truncated("rANS payload extends past the stream"));
        }
        let len = len as usize;
        if len < 4 * LANES || len % 2 != 0 {
            return Err(Error::corrupt("rANS payload has an invalid length"));
        }
        let payload = &r.buf[r.pos..r.pos + len];
        let rest = &r.buf[r.pos + len..];
        let (st, words) = payload.split_at(4 * LANES);
        let mut x = [0u32; LANES];
        for (xi, b) in x.iter_mut().zip(st.chunks_exact(4)) {
            *xi = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        // A valid state is >= L; forged smaller ones just decode garbage that finish() rejects.
        Ok((
            Decoder {
                tab,
                words,
                x,
                i: 0,
                bad: false,
            },
            rest,
        ))
    }

    /// Decodes the next symbol with context `ctx` (< nctx; a larger value is a caller bug and
    /// panics). Never panics on corrupt data.
    #[inline(always)]
    pub fn decode(&mut self, ctx: usize) -> u8 {
        let lane = self.i & (LANES - 1);
        self.i += 1;
        let x = self.x[lane];
        let e = self.tab[(ctx << PB) | (x & Self::MASK) as usize];
        self.bad |= e == EMPTY;
        // x' = f * (x >> PB) + (slot - start), with f - 1 and slot - start from the entry.
        let q = x >> PB;
        let x = (e & 0xfff)
            .wrapping_mul(q)
            .wrapping_add(q)
            .wrapping_add((e >> 12) & 0xfff);
        self.x[lane] = self.renorm(x);
        (e >> 24) as u8
    }

    /// Decodes the next `LANES` symbols with the given contexts, one per lane (same result as
    /// `LANES` calls of [`Decoder::decode`]); for callers that know a group's contexts up
    /// front. Lets the compiler keep the lane states in registers.
    #[inline(always)]
    pub fn decode_lanes(&mut self, ctx: [usize; LANES]) -> [u8; LANES] {
        let mut out = [0u8; LANES];
        let r = self.i & (LANES - 1);
        if r != 0 {
            // Not aligned to a lane group: fall back to the rotating path.
            for (o, &c) in out.iter_mut().zip(&ctx) {
                *o = self.decode(c);
            }
            return out;
        }
        self.i += LANES;
        let mut x = self.x;
        let mut bad = false;
        for k in 0..LANES {
            let e = self.tab[(ctx[k] << PB) | (x[k] & Self::MASK) as usize];
            bad |= e == EMPTY;
            let q = x[k] >> PB;
            x[k] = (e & 0xfff)
                .wrapping_mul(q)
                .wrapping_add(q)
                .wrapping_add((e >> 12) & 0xfff);
            out[k] = (e >> 24) as u8;
        }
        for xk in x.iter_mut() {
            *xk = self.renorm(*xk);
        }
        self.bad |= bad;
        self.x = x;
        out
    }

    /// Decodes `out.len()` symbols, symbol `k` with context `ctx[k]` (same result as calling
    /// [`Decoder::decode`] for each): the fast path for callers that know the contexts of a
    /// run of symbols up front (e.g. a whole row whose predictions depend only on coarser
    /// values). Lane states stay in registers. Panics if `ctx.len() != out.len()` or a
    /// context is >= nctx (caller bugs).
    pub fn decode_many(&mut self, ctx: &[u8], out: &mut [u8]) {
        self.many::<true>(ctx, out)
    }

    /// [`Decoder::decode_many`] for callers to whom symbol 255 is invalid (e.g. method 6,
    /// whose symbols are < 88): a symbol of an unused context decodes as 255 without being
    /// recorded as damage, saving the per-symbol check. The caller must reject any 255 it
    /// gets; with that, a stream is accepted iff [`Decoder::decode_many`] would accept it.
    pub fn decode_many_no255(&mut self, ctx: &[u8], out: &mut [u8]) {
        self.many::<false>(ctx, out)
    }

    #[inline(always)]
    fn many<const CHECK_EMPTY: bool>(&mut self, ctx: &[u8], out: &mut [u8]) {
        assert_eq!(ctx.len(), out.len());
        let mut k = 0;
        // Align to a lane group.
        while k < out.len() && self.i & (LANES - 1) != 0 {
            out[k] = self.decode(ctx[k] as usize);
            k += 1;
        }
        let (ctx, out) = (&ctx[k..], &mut out[k..]);
        let tab = &self.tab[..];
        let mut words = self.words;
        let mut x = self.x;
        let mut bad = false;
        let n = out.len();
        let mut oc = out.chunks_exact_mut(LANES);
        let mut cc = ctx.chunks_exact(LANES);
        for (o, c) in (&mut oc).zip(&mut cc) {
            let mut e = [0u32; LANES];
            for l in 0..LANES {
                e[l] = tab[((c[l] as usize) << PB) | (x[l] & Self::MASK) as usize];
            }
            for l in 0..LANES {
                if CHECK_EMPTY {
                    bad |= e[l] == EMPTY;
                }
                let q = x[l] >> PB;
                x[l] = (e[l] & 0xfff)
                    .wrapping_mul(q)
                    .wrapping_add(q)
                    .wrapping_add((e[l] >> 12) & 0xfff);
                o[l] = (e[l] >> 24) as u8;
            }
            if let Some(w) = words.get(..2 * LANES) {
                // Fast path: this group's words (at most LANES) are all present. Word j of the
                // group goes to the j-th lane that needs one. Arithmetic, not a select: LLVM
                // turned the select into a branch per lane, taken with the probability of a
                // renormalisation (unpredictable): decode_many 333 -> 384 Msym/s on GE CT.
                let mut j = 0;
                for xl in x.iter_mut() {
                    let need = (*xl < L) as u32;
                    // j <= lane < LANES, so the mask changes nothing and proves the bounds.
                    let jj = j & (LANES - 1);
                    let v = u16::from_le_bytes([w[2 * jj], w[2 * jj + 1]]) as u32;
                    *xl = (*xl << (need << 4)) | (v & need.wrapping_neg());
                    j += need as usize;
                }
                words = &words[2 * j..];
            } else {
                for xl in x.iter_mut() {
                    if *xl < L {
                        if let [a, b, rest @ ..] = words {
                            words = rest;
                            *xl = (*xl << 16) | u16::from_le_bytes([*a, *b]) as u32;
                        } else {
                            bad = true;
                            *xl = L;
                        }
                    }
                }
            }
        }
        let rem = cc.remainder();
        self.i += n - rem.len();
        self.words = words;
        self.x = x;
        self.bad |= bad;
        for (o, &c) in oc.into_remainder().iter_mut().zip(rem) {
            *o = self.decode(c as usize);
        }
    }

    /// At most one 16-bit word per symbol; running out of words is damage.
    #[inline(always)]
    fn renorm(&mut self, x: u32) -> u32 {
        if x >= L {
            return x;
        }
        if let [a, b, rest @ ..] = self.words {
            self.words = rest;
            (x << 16) | u16::from_le_bytes([*a, *b]) as u32
        } else {
            self.bad = true;
            L
        }
    }

    /// Records damage found by the caller (e.g. a symbol invalid in its place).
    #[inline]
    pub fn mark_bad(&mut self) {
        self.bad = true;
    }

    /// Number of symbols decoded so far.
    pub fn position(&self) -> usize {
        self.i
    }

    /// Ok iff no damage was seen, every lane is back in its initial state and the payload was
    /// consumed exactly. (Symbols of a single-symbol context cost no bits, so decoding too few or
    /// too many of those is not detectable here; the caller knows its symbol count.)
    pub fn finish(&self) -> Result<()> {
        if self.bad || self.x.iter().any(|&x| x != L) || !self.words.is_empty() {
            return Err(Error::corrupt(
                "entropy-coded section is damaged or does not end where the symbols do",
            ));
        }
        Ok(())
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bounds-checked LEB128 reader of the method-6 body and its rANS section (FORMAT.md §5: at
/// most 10 bytes, no bits past the 64th); `truncated` names where the bytes ran out.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) truncated: &'static str,
}

impl Reader<'_> {
    pub(crate) fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for k in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(Error::truncated(self.truncated));
            };
            self.pos += 1;
            if k == 9 && b > 1 {
                return Err(Error::corrupt("varint overflows 64 bits"));
            }
            v |= ((b & 0x7f) as u64) << (7 * k);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Error::corrupt("varint longer than 10 bytes"))
    }
}

/// Number of contexts of [`residual_symbols`].
#[doc(hidden)]
pub const RES_NCTX: usize = 20;

/// Realistic symbol stream for benchmarks: previous-pixel residuals of little-endian u16 data,
/// zigzagged and bucketised like `interp::bucket` (symbols < 150), with the context chosen from
/// the local activity (bit length of |left - up-left|, capped at 9) and two row classes, like the
/// pyramid's 20 contexts. `row` is the length of the last axis. Returns (contexts, symbols).
#[doc(hidden)]
pub fn residual_symbols(le_u16: &[u8], row: usize) -> (Vec<u8>, Vec<u8>) {
    let v: Vec<i64> = le_u16
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]) as i64)
        .collect();
    let row = row.max(1);
    let mut ctx = Vec::with_capacity(v.len());
    let mut sym = Vec::with_capacity(v.len());
    for i in 0..v.len() {
        let a = if i >= 1 { v[i - 1] } else { 0 };
        let b = if i > row { v[i - row - 1] } else { a };
        let d = v[i] - a;
        let u = ((d << 1) ^ (d >> 63)) as u64;
        let s = if u < 32 {
            u as u8
        } else {
            let e = 63 - u.leading_zeros();
            (32 + (e - 5) * 2 + ((u >> (e - 1)) & 1) as u32) as u8
        };
        let act = ((64 - a.abs_diff(b).leading_zeros()) as usize).min(9);
        let class = ((i / row) & 1) * 10;
        ctx.push((class + act) as u8);
        sym.push(s);
    }
    (ctx, sym)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 11
        }
        /// Geometric-ish symbol with parameter depending on `k`.
        fn skewed(&mut self, k: u32) -> u8 {
            let r = self.next();
            let t = (r & ((1 << 40) - 1)) as f64 / (1u64 << 40) as f64;
            let p = 1.0 / (2.0 + k as f64);
            ((-(1.0 - t).ln() / p).floor() as u64).min(255) as u8
        }
    }

    fn roundtrip<const N: usize, const PB: u32>(seq: &[(usize, u8)], nctx: usize) -> Vec<u8> {
        let mut e = Encoder::<N, PB>::new(nctx);
        for &(c, s) in seq {
            e.push(c, s);
        }
        let mut out = Vec::new();
        e.finish(&mut out);
        out.extend_from_slice(b"tail");
        let (mut d, rest) = Decoder::<N, PB>::new(&out, nctx).unwrap();
        assert_eq!(rest, b"tail");
        for (i, &(c, s)) in seq.iter().enumerate() {
            assert_eq!(d.decode(c), s, "symbol {i}");
        }
        d.finish().unwrap();
        out.truncate(out.len() - 4);
        out
    }

    /// (start, end) ranges that cover 0..n in pieces of the given lengths, cycled (empty
    /// pieces included), for decoding a sequence in uneven calls.
    fn pieces(n: usize, lens: &[usize]) -> Vec<(usize, usize)> {
        let (mut out, mut k) = (Vec::new(), 0);
        for len in lens.iter().cycle() {
            let e = (k + len).min(n);
            out.push((k, e));
            k = e;
            if k == n {
                break;
            }
        }
        out
    }

    fn random_seq(seed: u64, n: usize, nctx: usize) -> Vec<(usize, u8)> {
        let mut g = Lcg(seed);
        (0..n)
            .map(|_| {
                let c = (g.next() % nctx as u64) as usize;
                let s = match c % 4 {
                    0 => 7,                        // single-symbol context
                    1 => (g.next() % 256) as u8,   // uniform
                    2 => g.skewed(c as u32 / 8),   // geometric
                    _ => (g.next() % 3) as u8 * 9, // sparse alphabet
                };
                (c, s)
            })
            .collect()
    }

    #[test]
    fn roundtrip_many_contexts_all_configs() {
        for (seed, n) in [(1u64, 100_000usize), (2, 1), (3, 2), (4, 5), (5, 4097)] {
            let seq = random_seq(seed, n, 40);
            roundtrip::<4, 12>(&seq, 40);
            roundtrip::<8, 12>(&seq, 40);
            roundtrip::<4, 11>(&seq, 40);
            roundtrip::<8, 11>(&seq, 40);
            roundtrip::<1, 12>(&seq, 40);
        }
    }

    /// Rows handed over with `push_row` (any lengths, incl. empty) give the bytes of the same
    /// symbols pushed one by one, for every lane count and any total length mod LANES.
    #[test]
    fn push_row_equals_push() {
        fn both<const N: usize>(seq: &[(usize, u8)], cuts: &[usize]) {
            let mut a = Encoder::<N, 12>::new(24);
            let mut b = Encoder::<N, 12>::new(24);
            for &(c, s) in seq {
                a.push(c, s);
            }
            let mut at = 0usize;
            for &len in cuts.iter().chain(std::iter::once(&usize::MAX)) {
                let end = at.saturating_add(len).min(seq.len());
                let ctx: Vec<u8> = seq[at..end].iter().map(|&(c, _)| c as u8).collect();
                let sym: Vec<u8> = seq[at..end].iter().map(|&(_, s)| s).collect();
                b.push_row(&ctx, &sym);
                at = end;
            }
            let (mut oa, mut ob) = (Vec::new(), Vec::new());
            a.finish(&mut oa);
            b.finish(&mut ob);
            assert_eq!(oa, ob);
        }
        for (seed, n) in [(11u64, 0usize), (12, 3), (13, 1001), (14, 20_000)] {
            let seq = random_seq(seed, n, 24);
            for cuts in [&[][..], &[0, 1, 2, 3, 4, 5, 6, 7][..], &[7, 0, 333, 1][..]] {
                both::<4>(&seq, cuts);
                both::<8>(&seq, cuts);
                both::<1>(&seq, cuts);
            }
        }
    }

    #[test]
    #[should_panic]
    fn push_row_context_out_of_range_panics() {
        let mut e = Rans4Encoder::new(3);
        e.push_row(&[0, 3], &[1, 1]);
        e.finish(&mut Vec::new());
    }

    #[test]
    fn decode_lanes_equals_decode() {
        let seq = random_seq(11, 10_003, 16);
        let mut e = Encoder::<4, 12>::new(16);
        for &(c, s) in &seq {
            e.push(c, s);
        }
        let mut out = Vec::new();
        e.finish(&mut out);
        let (mut d, _) = Decoder::<4, 12>::new(&out, 16).unwrap();
        let mut got = Vec::new();
        // Mixed: single symbols (misaligned groups take the fallback) and groups.
        let mut i = 0;
        while i < seq.len() {
            if i % 7 == 3 || i + 4 > seq.len() {
                got.push(d.decode(seq[i].0));
                i += 1;
            } else {
                let c = [seq[i].0, seq[i + 1].0, seq[i + 2].0, seq[i + 3].0];
                got.extend(d.decode_lanes(c));
                i += 4;
            }
        }
        d.finish().unwrap();
        assert!(got.iter().zip(&seq).all(|(&g, &(_, s))| g == s));
        // decode_many over uneven pieces.
        let (mut d, _) = Decoder::<4, 12>::new(&out, 16).unwrap();
        let ctx: Vec<u8> = seq.iter().map(|p| p.0 as u8).collect();
        let mut got = vec![0u8; seq.len()];
        for (k, e) in pieces(seq.len(), &[0, 1, 2, 7, 4, 1000, 3]) {
            d.decode_many(&ctx[k..e], &mut got[k..e]);
        }
        d.finish().unwrap();
        assert!(got.iter().zip(&seq).all(|(&g, &(_, s))| g == s));
    }

    #[test]
    fn empty_stream() {
        let out = roundtrip::<4, 12>(&[], 3);
        // nctx, 3 empty tables, length, 4 states.
        assert_eq!(out.len(), 1 + 3 + 1 + 16);
        let out = roundtrip::<8, 12>(&[], 0);
        assert_eq!(out.len(), 1 + 1 + 32);
    }

    #[test]
    fn single_symbol_contexts_cost_nothing() {
        let seq: Vec<(usize, u8)> = (0..50_000).map(|i| (i % 2, (i % 2) as u8 * 200)).collect();
        let out = roundtrip::<4, 12>(&seq, 2);
        // Tables (ctx0: n=1; ctx1: n=201, zero run, implied last) + len + 4 states, no words.
        assert!(out.len() <= 1 + 1 + 4 + 2 + 16, "{}", out.len());
    }

    #[test]
    fn single_symbol_255_is_not_mistaken_for_an_unused_context() {
        // Mixed with a uniform context (period 3, coprime to the lanes) so every lane state
        // varies: slot 4095 of the single-symbol context is hit ~30 times.
        let mut g = Lcg(3);
        let seq: Vec<(usize, u8)> = (0..200_000)
            .map(|i| {
                if i % 3 == 0 {
                    (0, g.next() as u8)
                } else {
                    (1, 255)
                }
            })
            .collect();
        roundtrip::<4, 12>(&seq, 2);
        roundtrip::<4, 11>(&seq, 2);
    }

    #[test]
    fn skewed_ratio_close_to_entropy() {
        let mut g = Lcg(77);
        let n = 400_000;
        let nctx = 4;
        let seq: Vec<(usize, u8)> = (0..n)
            .map(|i| (i % nctx, g.skewed([0, 1, 3, 8][i % nctx])))
            .collect();
        // Empirical entropy of the sequence given the context.
        let mut cnt = vec![[0u64; 256]; nctx];
        for &(c, s) in &seq {
            cnt[c][s as usize] += 1;
        }
        let mut bits = 0.0;
        for row in &cnt {
            let t: u64 = row.iter().sum();
            for &k in row.iter().filter(|&&k| k > 0) {
                bits -= k as f64 * (k as f64 / t as f64).log2();
            }
        }
        let ideal = bits / 8.0;
        for (name, len) in [
            ("4x12", roundtrip::<4, 12>(&seq, nctx).len()),
            ("8x12", roundtrip::<8, 12>(&seq, nctx).len()),
        ] {
            let over = len as f64 / ideal - 1.0;
            assert!(
                over < 0.005,
                "{name}: {len} bytes vs ideal {ideal:.0}: {over:.4}"
            );
        }
    }

    #[test]
    fn reciprocal_equals_division() {
        let mut g = Lcg(5);
        for pb in [11u32, 12] {
            let m = 1u32 << pb;
            for f in (1..=m).step_by(13).chain([1, 2, 3, m - 1, m]) {
                let st = (m - f) / 2;
                let e = EncSym::new(st, f, pb);
                for k in 0..400 {
                    // Any state the encoder can hold before the update: L <= x < f << (32 - pb).
                    let hi = (f as u64) << (32 - pb);
                    let x = match k {
                        0 => L as u64,
                        1 => hi - 1,
                        _ => L as u64 + g.next() % (hi - L as u64),
                    } as u32;
                    let want = ((x / f) as u64) * m as u64 + (x % f) as u64 + st as u64;
                    assert_eq!(e.put(x) as u64, want, "f={f} x={x}");
                }
            }
        }
    }

    #[test]
    fn normalize_sums_and_keeps_support() {
        let mut c = vec![0u32; ALPHABET];
        for (i, v) in c.iter_mut().enumerate() {
            *v = if i % 3 == 0 {
                1
            } else {
                1_000_000 * (i as u32 % 7)
            };
        }
        for m in [2048, 4096] {
            let f = normalize(&c, m);
            assert_eq!(f.iter().sum::<u32>(), m);
            assert!(c.iter().zip(&f).all(|(&c, &f)| (c == 0) == (f == 0)));
        }
        let all: Vec<u32> = vec![1; 256];
        assert!(normalize(&all, 256 * 8).iter().all(|&f| f == 8));
    }

    /// The greedy rounding as first written: every step scans all symbols and recomputes
    /// their losses. `normalize` keeps the losses up to date instead; same frequencies.
    fn normalize_scan_all(cnt: &[u32], m: u32) -> Vec<u32> {
        let total: u64 = cnt.iter().map(|&c| c as u64).sum();
        let mut f = vec![0u32; cnt.len()];
        if total == 0 {
            return f;
        }
        let mut sum = 0i64;
        for (fi, &c) in f.iter_mut().zip(cnt) {
            if c > 0 {
                *fi = ((c as u64 * m as u64 + total / 2) / total).max(1) as u32;
                sum += *fi as i64;
            }
        }
        let cost = |c: u32, a: u32, b: u32| c as f64 * ((a as f64).ln() - (b as f64).ln());
        while sum != m as i64 {
            let mut best = usize::MAX;
            let mut best_cost = f64::INFINITY;
            for (i, (&fi, &c)) in f.iter().zip(cnt).enumerate() {
                if c == 0 || (sum > m as i64 && fi <= 1) {
                    continue;
                }
                let d = if sum > m as i64 {
                    cost(c, fi, fi - 1)
                } else {
                    -cost(c, fi + 1, fi)
                };
                if d < best_cost {
                    best_cost = d;
                    best = i;
                }
            }
            if best == usize::MAX {
                break;
            }
            if sum > m as i64 {
                f[best] -= 1;
                sum -= 1;
            } else {
                f[best] += 1;
                sum += 1;
            }
        }
        f
    }

    #[test]
    fn normalize_equals_the_full_scan() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for case in 0..400 {
            let used = 1 + (next() % 256) as usize;
            let mut c = vec![0u32; ALPHABET];
            for v in c.iter_mut().take(used) {
                // Skewed counts with zeros and ties, so that both directions and ties occur.
                *v = match next() % 5 {
                    0 => 0,
                    1 => 1,
                    2 => (next() % 4) as u32 + 1,
                    _ => (next() % (1 << (next() % 20))) as u32,
                };
            }
            for m in [256, 2048, 4096] {
                assert_eq!(
                    normalize(&c, m),
                    normalize_scan_all(&c, m),
                    "case {case} m {m}"
                );
            }
        }
    }

    #[test]
    fn rejects_bad_tables() {
        // Frequencies summing above the scale.
        let mut b = Vec::new();
        put_varint(&mut b, 1);
        put_varint(&mut b, 3);
        put_varint(&mut b, 4000);
        put_varint(&mut b, 96);
        assert!(Rans4Decoder::new(&b, 1).is_err());
        // Alphabet > 256.
        let b = [1u8, 0x81, 0x02];
        assert!(Rans4Decoder::new(&b, 1).is_err());
        // Wrong context count.
        let b = [2u8, 0, 0, 16];
        assert!(Rans4Decoder::new(&b, 1).is_err());
        // Zero run past the alphabet.
        let b = [1u8, 3, 0, 2];
        assert!(Rans4Decoder::new(&b, 1).is_err());
    }

    #[test]
    fn decode_many_no255_equals_decode_many() {
        // Same symbols, same end state (finish) over uneven pieces, incl. the slow tail path
        // (pieces ending within the last group's words).
        for (seed, n) in [(21u64, 20_011usize), (22, 3), (23, 9)] {
            let seq = random_seq(seed, n, 12);
            let mut e = Rans4Encoder::new(12);
            for &(c, s) in &seq {
                e.push(c, s);
            }
            let mut out = Vec::new();
            e.finish(&mut out);
            let ctx: Vec<u8> = seq.iter().map(|p| p.0 as u8).collect();
            let (mut d, _) = Rans4Decoder::new(&out, 12).unwrap();
            let mut got = vec![0u8; seq.len()];
            for (k, e) in pieces(seq.len(), &[5, 0, 1, 300, 2, 8]) {
                d.decode_many_no255(&ctx[k..e], &mut got[k..e]);
            }
            d.finish().unwrap();
            assert!(
                got.iter().zip(&seq).all(|(&g, &(_, s))| g == s),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn decode_many_no255_gives_255_for_an_unused_context() {
        let mut e = Rans4Encoder::new(3);
        for i in 0..64u8 {
            e.push(0, i % 5);
        }
        let mut out = Vec::new();
        e.finish(&mut out);
        let (mut d, _) = Rans4Decoder::new(&out, 3).unwrap();
        let ctx = [0u8, 0, 2, 0, 1, 0, 0, 0];
        let mut sym = [0u8; 8];
        d.decode_many_no255(&ctx, &mut sym);
        assert_eq!((sym[2], sym[4]), (255, 255));
        let (mut d, _) = Rans4Decoder::new(&out, 3).unwrap();
        d.decode_many(&ctx, &mut sym);
        assert!(d.finish().is_err());
    }

    #[test]
    fn unused_context_is_an_error() {
        let mut e = Rans4Encoder::new(2);
        e.push(0, 1);
        e.push(0, 2);
        let mut out = Vec::new();
        e.finish(&mut out);
        let (mut d, _) = Rans4Decoder::new(&out, 2).unwrap();
        d.decode(0);
        d.decode(1);
        assert!(d.finish().is_err());
    }

    #[test]
    fn extra_or_missing_symbols_are_errors() {
        // Symbols of a single-symbol context cost nothing and leave the state unchanged, so
        // their count is not checkable here (the caller knows how many symbols it decodes);
        // end on a symbol of a uniform context.
        let mut seq = random_seq(9, 5000, 8);
        seq.push((1, 77));
        let mut e = Rans4Encoder::new(8);
        for &(c, s) in &seq {
            e.push(c, s);
        }
        let mut out = Vec::new();
        e.finish(&mut out);
        let (mut d, _) = Rans4Decoder::new(&out, 8).unwrap();
        for &(c, _) in &seq[..seq.len() - 1] {
            d.decode(c);
        }
        assert!(d.finish().is_err(), "one symbol short");
        d.decode(seq[seq.len() - 1].0);
        d.finish().unwrap();
        d.decode(0);
        d.decode(1);
        assert!(d.finish().is_err(), "symbols past the end");
    }

    fn decode_all(buf: &[u8], ctxs: &[usize], nctx: usize) -> Result<Vec<u8>> {
        let (mut d, _) = Rans4Decoder::new(buf, nctx)?;
        let v: Vec<u8> = ctxs.iter().map(|&c| d.decode(c)).collect();
        d.finish()?;
        Ok(v)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn damage_never_panics(seed in any::<u64>(), n in 0usize..3000, cut in any::<usize>(),
                               flip in any::<usize>(), bit in 0u8..8) {
            let seq = random_seq(seed, n, 12);
            let mut e = Rans4Encoder::new(12);
            for &(c, s) in &seq {
                e.push(c, s);
            }
            let mut out = Vec::new();
            e.finish(&mut out);
            let ctxs: Vec<usize> = seq.iter().map(|p| p.0).collect();
            let syms: Vec<u8> = seq.iter().map(|p| p.1).collect();
            prop_assert_eq!(decode_all(&out, &ctxs, 12).unwrap(), syms.clone());
            // Truncation: always an error (the section states its length).
            let t = cut % out.len();
            prop_assert!(decode_all(&out[..t], &ctxs, 12).is_err());
            // A bit flip: an error or (rarely) another symbol sequence, never a panic.
            let mut bad = out.clone();
            let k = flip % bad.len();
            bad[k] ^= 1 << bit;
            if let Ok(v) = decode_all(&bad, &ctxs, 12) {
                prop_assert_eq!(v.len(), ctxs.len());
            }
        }
    }

    /// Timing comparison old coder (rans.rs) vs this one on real residual symbols. Not a test:
    /// `cargo test --release --lib rans4::tests::bench_compare -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_compare() {
        bench::compare();
    }

    mod bench {
        use super::super::*;
        use crate::codec::bits::Cursor;
        use crate::codec::rans;
        use std::time::Instant;

        struct Npy {
            shape: Vec<usize>,
            data: Vec<u8>,
        }

        /// Minimal .npy reader (version 1/2 header, C order) for this ignored timing test.
        fn read_npy(p: &std::path::Path) -> Npy {
            let b = std::fs::read(p).expect("npy");
            let (hl, off) = if b[6] == 1 {
                (u16::from_le_bytes([b[8], b[9]]) as usize, 10)
            } else {
                (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
            };
            let hdr = std::str::from_utf8(&b[off..off + hl]).expect("header");
            let sh = &hdr[hdr.find("'shape': (").expect("shape") + 10..];
            let sh = &sh[..sh.find(')').expect(")")];
            let shape = sh
                .split(',')
                .filter_map(|t| t.trim().parse().ok())
                .collect();
            Npy {
                shape,
                data: b[off + hl..].to_vec(),
            }
        }

        pub fn compare() {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
            for (name, rel) in [
                ("ct_head_ge", "ct_head_ge/ct_head_ge_uint16.npy"),
                (
                    "fluo_nuclei",
                    "fluo_confocal_nuclei_cells3d/nuclei_uint16.npy",
                ),
            ] {
                let p = root.join(rel);
                if !p.exists() {
                    eprintln!("SKIP {name}: {} missing", p.display());
                    continue;
                }
                let arr = read_npy(&p);
                let (mut ctx, mut sym) =
                    super::super::residual_symbols(&arr.data, arr.shape[arr.shape.len() - 1]);
                // RANS4_BENCH_N=<symbols>: a short deterministic run for callgrind.
                if let Some(n) = std::env::var("RANS4_BENCH_N")
                    .ok()
                    .and_then(|v| v.parse().ok())
                {
                    ctx.truncate(n);
                    sym.truncate(n);
                }
                run(name, &ctx, &sym);
            }
        }

        fn best<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
            let reps = if std::env::var("RANS4_BENCH_N").is_ok() {
                1
            } else {
                reps
            };
            let mut t = f64::INFINITY;
            let mut r = None;
            for _ in 0..reps {
                let s = Instant::now();
                let v = f();
                t = t.min(s.elapsed().as_secs_f64());
                r = Some(v);
            }
            (t, r.unwrap())
        }

        fn run(name: &str, ctx: &[u8], sym: &[u8]) {
            let n = sym.len();
            let nctx = super::super::RES_NCTX;
            println!(
                "\n{name}: {n} symbols, {nctx} contexts\n{:<14} {:>12} {:>12} {:>10} {:>10}",
                "coder", "enc Msym/s", "dec Msym/s", "bytes", "bits/sym"
            );
            let (te, old) = best(3, || enc_old(ctx, sym));
            let (td, acc) = best(5, || dec_old(&old, ctx));
            std::hint::black_box(acc);
            line("old 1x12 byte", n, te, td, old.len());
            new::<4, 12>("new 4x12", ctx, sym);
            new::<8, 12>("new 8x12", ctx, sym);
            new::<4, 11>("new 4x11", ctx, sym);
            new::<8, 11>("new 8x11", ctx, sym);
            new::<1, 12>("new 1x12", ctx, sym);
        }

        #[inline(never)]
        fn enc_old(ctx: &[u8], sym: &[u8]) -> Vec<u8> {
            let mut e = rans::Encoder::with_capacity(super::super::RES_NCTX, sym.len());
            for (&c, &s) in ctx.iter().zip(sym) {
                e.push(c as usize, s as usize);
            }
            let mut out = Vec::new();
            e.finish(&mut out);
            out
        }

        #[inline(never)]
        fn dec_old(buf: &[u8], ctx: &[u8]) -> usize {
            let mut cur = Cursor::new(buf);
            let mut d = rans::Decoder::new(&mut cur, super::super::RES_NCTX).unwrap();
            let mut acc = 0usize;
            for &c in ctx {
                acc = acc.wrapping_add(d.get(c as usize));
            }
            d.finish().unwrap();
            acc
        }

        #[inline(never)]
        fn enc_new<const N: usize, const PB: u32>(ctx: &[u8], sym: &[u8]) -> Vec<u8> {
            let mut e = Encoder::<N, PB>::with_capacity(super::super::RES_NCTX, sym.len());
            for (&c, &s) in ctx.iter().zip(sym) {
                e.push(c as usize, s);
            }
            let mut out = Vec::new();
            e.finish(&mut out);
            out
        }

        #[inline(never)]
        fn dec_new<const N: usize, const PB: u32>(buf: &[u8], ctx: &[u8]) -> usize {
            let (mut d, _) = Decoder::<N, PB>::new(buf, super::super::RES_NCTX).unwrap();
            let mut acc = 0usize;
            for &c in ctx {
                acc = acc.wrapping_add(d.decode(c as usize) as usize);
            }
            d.finish().unwrap();
            acc
        }

        #[inline(never)]
        fn dec_new_lanes<const N: usize, const PB: u32>(buf: &[u8], ctx: &[u8]) -> usize {
            let (mut d, _) = Decoder::<N, PB>::new(buf, super::super::RES_NCTX).unwrap();
            let mut out = vec![0u8; 4096];
            let mut acc = 0usize;
            // Row-sized pieces, as a pyramid decoder would call it.
            for c in ctx.chunks(4096) {
                d.decode_many(c, &mut out[..c.len()]);
                acc = acc.wrapping_add(out[0] as usize);
            }
            d.finish().unwrap();
            acc
        }

        fn line(name: &str, n: usize, te: f64, td: f64, bytes: usize) {
            println!(
                "{name:<14} {:>12.1} {:>12.1} {:>10} {:>10.4}",
                n as f64 / te / 1e6,
                n as f64 / td / 1e6,
                bytes,
                bytes as f64 * 8.0 / n as f64
            );
        }

        fn new<const N: usize, const PB: u32>(name: &str, ctx: &[u8], sym: &[u8]) {
            // RANS4_ONLY=4x12: run one configuration (for callgrind).
            if let Ok(only) = std::env::var("RANS4_ONLY") {
                if !name.ends_with(&only) {
                    return;
                }
            }
            let (te, out) = best(3, || enc_new::<N, PB>(ctx, sym));
            let (td, acc) = best(5, || dec_new::<N, PB>(&out, ctx));
            let (tg, acc2) = best(5, || dec_new_lanes::<N, PB>(&out, ctx));
            std::hint::black_box((acc, acc2));
            line(name, sym.len(), te, td, out.len());
            println!(
                "{:<14} {:>12} {:>12.1}",
                "  decode_many",
                "",
                sym.len() as f64 / tg / 1e6
            );
        }
    }
}
