//! `codec::decompress` on arbitrary bytes: any format version, any method. Must never panic;
//! a success must agree with `read_header` and decode to exactly the header's size.
#![no_main]
use h5z_apr_fuzz::check_decoded;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let r = h5z_apr::codec::decompress(data);
    check_decoded(data, &r);
});
