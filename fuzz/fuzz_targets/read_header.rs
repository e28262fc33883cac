//! `codec::read_header` on arbitrary bytes: never panics, and every accepted header obeys
//! FORMAT.md §2.1 (rank, dims, 4 GiB cap, parameter) and only depends on its own bytes.
#![no_main]
use h5z_apr::codec;
use h5z_apr_fuzz::check_header;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = codec::read_header(data) {
        check_header(&h);
        let len = h.encoded_len();
        assert!(len <= data.len());
        // The header is self-contained: bytes after it do not change it.
        assert_eq!(codec::read_header(&data[..len]).expect("prefix"), h);
    }
});
