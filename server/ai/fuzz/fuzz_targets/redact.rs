//! Redact any bytes; `fuzz_redact` panics if redaction panics or lets a phone number or an
//! email address through.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tabibu_ai::fuzz_redact(data);
});
