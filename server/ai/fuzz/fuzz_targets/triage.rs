//! Triage any bytes; `fuzz_triage` panics if a safety invariant breaks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tabibu_ai::fuzz_triage(data);
});
