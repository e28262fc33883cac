//! Hostile input: truncated, bit-flipped and forged streams give errors, never panics.

mod stream_support;
use stream_support::fix_crc;

use h5z_apr::codec::{compress, decompress, decompress_into, read_header, Config, DType};
use h5z_apr::ErrorKind;

fn sample_streams() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let shape = [6, 20, 17];
    let n: usize = shape.iter().product();
    let u16s: Vec<u8> = (0..n)
        .flat_map(|i| {
            ((((i as f64) * 0.05).sin() * 900.0 + 1000.0 + (i % 7) as f64) as u16).to_le_bytes()
        })
        .collect();
    let f32s: Vec<u8> = (0..n)
        .flat_map(|i| (((i as f32) * 0.031).cos() * 3.0 + (i % 5) as f32 * 0.01).to_le_bytes())
        .collect();
    let sparse: Vec<u8> = (0..n)
        .flat_map(|i| (((i % 40) as u16 / 3) * 47).to_le_bytes())
        .collect();
    let cfgs = [
        ("lossless", Config::lossless()),
        ("abs", Config::abs(2.0)),
        ("apr", Config::apr(0.1)),
    ];
    for (name, cfg) in &cfgs {
        for (dname, dt, data) in [
            ("u16", DType::U16, &u16s),
            ("f32", DType::F32, &f32s),
            ("pal", DType::U16, &sparse),
        ] {
            let cfg = if dt == DType::F32 && *name == "abs" {
                Config::abs(0.01)
            } else {
                cfg.clone()
            };
            out.push((
                format!("{name}-{dname}"),
                compress(data, dt, &shape, &cfg).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn every_truncation_is_an_error() {
    for (name, s) in sample_streams() {
        for len in 0..s.len() {
            let r = decompress(&s[..len]);
            assert!(
                r.is_err(),
                "{name}: truncation to {len} of {} decoded",
                s.len()
            );
        }
        assert!(decompress(&s).is_ok(), "{name}");
    }
}

#[test]
fn every_single_bit_flip_is_detected() {
    for (name, s) in sample_streams() {
        for i in 0..s.len() {
            for bit in [0, 3, 7] {
                let mut t = s.clone();
                t[i] ^= 1 << bit;
                assert!(
                    decompress(&t).is_err(),
                    "{name}: flip of bit {bit} at byte {i} decoded"
                );
            }
        }
    }
}

#[test]
fn forged_streams_with_valid_checksum_never_panic() {
    for (name, s) in sample_streams() {
        let hlen = 16 + 4 * 3;
        for i in hlen..s.len() - 4 {
            for v in [0x00u8, 0xff, s[i] ^ 0x10, s[i].wrapping_add(1)] {
                let mut t = s.clone();
                t[i] = v;
                fix_crc(&mut t);
                // Either an error or some output of the declared size; never a panic.
                if let Ok((h, out)) = decompress(&t) {
                    assert_eq!(out.len(), h.nbytes(), "{name}");
                }
            }
        }
        // Forged lengths inside sections: overwrite 4-byte windows with huge values.
        for i in (hlen..s.len().saturating_sub(8)).step_by(3) {
            let mut t = s.clone();
            t[i..i + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            fix_crc(&mut t);
            let _ = decompress(&t);
        }
    }
}

#[test]
fn header_validation() {
    let s = compress(&[1, 2, 3, 4], DType::U8, &[4], &Config::lossless()).unwrap();
    let mut t = s.clone();
    t[4] = h5z_apr::codec::FORMAT_VERSION + 1; // future version
    fix_crc(&mut t);
    assert_eq!(read_header(&t).unwrap_err().kind(), ErrorKind::Unsupported);
    assert_eq!(decompress(&t).unwrap_err().kind(), ErrorKind::Unsupported);
    let mut t = s.clone();
    t[0] = b'X';
    assert_eq!(decompress(&t).unwrap_err().kind(), ErrorKind::Corrupt);
    let mut t = s.clone();
    t[5] = 9; // dtype
    fix_crc(&mut t);
    assert!(decompress(&t).is_err());
    // A tiny forged stream that claims a 4 GiB chunk is refused before allocating it
    // (in every format version).
    for version in 1..=h5z_apr::codec::FORMAT_VERSION {
        let mut big = s[..16].to_vec();
        big[4] = version;
        big[5] = 1;
        big[7] = 2;
        big.extend_from_slice(&65536u32.to_le_bytes());
        big.extend_from_slice(&65535u32.to_le_bytes());
        big.push(2);
        big.extend_from_slice(&[0u8; 16]);
        big.extend_from_slice(&[0u8; 4]);
        fix_crc(&mut big);
        let mut out = vec![0u8; 16];
        assert_eq!(
            decompress_into(&big, &mut out).unwrap_err().kind(),
            ErrorKind::Corrupt
        );
        assert_eq!(decompress(&big).unwrap_err().kind(), ErrorKind::Corrupt);
    }
}

#[test]
fn wrong_output_size_is_refused() {
    let s = compress(&[9u8; 100], DType::U8, &[10, 10], &Config::lossless()).unwrap();
    let mut small = vec![0u8; 99];
    assert_eq!(
        decompress_into(&s, &mut small).unwrap_err().kind(),
        ErrorKind::BufferTooSmall
    );
    let mut ok = vec![0u8; 100];
    decompress_into(&s, &mut ok).unwrap();
    assert_eq!(ok, vec![9u8; 100]);
}
