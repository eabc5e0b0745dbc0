//! Any bytes as code, snapshotted midway through its run: the original, a fork, and a fork
//! made after both ran all go on the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (split, code) = rvedge_fuzz::midway_input(data);
    let elf = rvedge_fuzz::program_with_code(code);
    rvedge_fuzz::check_fork_midway(&elf, split, 100_000);
});
