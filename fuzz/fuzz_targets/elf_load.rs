//! Any bytes as an ELF file: loading either fails with an error or yields a machine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvedge::{Isolated, Machine};

fuzz_target!(|data: &[u8]| {
    let _ = Machine::from_elf(
        data,
        &rvedge_fuzz::small_options(),
        Box::new(Isolated::default()),
    );
});
