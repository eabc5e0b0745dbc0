//! Short straight-line programs (registers and arithmetic only) stop where and as qemu-riscv64
//! stops, with the same registers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvedge_fuzz::qemu::check_same_as_qemu(data);
});
