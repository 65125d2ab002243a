//! Any bytes as the head of a request to the metrics endpoint: the reader never panics, and
//! what is complete stays complete with more bytes after it.
#![no_main]

use ivr_core::metrics::{Head, request_head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let head = request_head(data);
    if let Head::Complete { .. } = head {
        let mut more = data.to_vec();
        more.extend_from_slice(b"trailing bytes");
        assert_eq!(request_head(&more), head);
    }
});
