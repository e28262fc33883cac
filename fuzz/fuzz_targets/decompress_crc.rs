//! `codec::decompress` on arbitrary bytes made to pass the cheap checks first (magic, a
//! version in 1..=FORMAT_VERSION, a valid CRC-32 trailer; see `fix_stream`), so mutations reach
//! the method bodies (claims over MAX_DECODED are skipped, see there). Also checks `decompress_into` with wrong-sized buffers fails cleanly.
#![no_main]
use h5z_apr::codec;
use h5z_apr_fuzz::{check_decoded, fix_stream, MAX_DECODED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = fix_stream(data);
    if codec::read_header(&s).is_ok_and(|h| h.nbytes() > MAX_DECODED) {
        return;
    }
    let r = codec::decompress(&s);
    check_decoded(&s, &r);
    if let Ok((h, out)) = &r {
        // Decoding is deterministic and `decompress_into` agrees.
        let mut again = vec![0u8; h.nbytes()];
        assert_eq!(
            &codec::decompress_into(&s, &mut again).expect("decode twice"),
            h
        );
        assert_eq!(&again, out);
        let mut short = vec![0u8; h.nbytes().saturating_sub(1)];
        assert!(codec::decompress_into(&s, &mut short).is_err());
        // stats() reads the same stream without decoding pixels.
        let st = codec::stats(&s).expect("stats of a decodable stream");
        assert_eq!(&st.header, h);
    }
});
