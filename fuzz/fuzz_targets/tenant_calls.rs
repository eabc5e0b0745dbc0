//! Tenant calls with fuzzer-chosen numbers and arguments in every hook, through an `Exchange`
//! with a `MemoryHost`: the request ends in a response or an error its calls explain, and ends
//! the same way with a late body and stepped hooks (see `rvedge_fuzz::tenant_calls`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvedge_fuzz::tenant_calls::check_tenant_calls(data);
});
