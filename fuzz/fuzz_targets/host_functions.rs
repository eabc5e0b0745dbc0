//! glibc's string functions and the host's in their place, called with fuzzer-chosen
//! pointers, lengths and bytes, end alike (see `rvedge_fuzz::host_functions`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvedge_fuzz::host_functions::check_host_functions(data);
});
