//! Any bytes as code: the machine stops with a value, and a fork of it behaves the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|code: &[u8]| {
    let elf = rvedge_fuzz::program_with_code(code);
    rvedge_fuzz::check_fork_behaves_as_fresh(&elf, 100_000);
});
