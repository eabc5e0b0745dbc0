//! Any bytes as an instruction of either width: decoding and printing never panic, and the
//! length is 2 or 4.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvedge::decode::{decode_bytes, Xlen};

fuzz_target!(|data: &[u8]| {
    for xlen in [Xlen::Rv32, Xlen::Rv64] {
        let (insn, size) = decode_bytes(data, xlen);
        assert!(size == 2 || size == 4);
        let text = insn.disassemble(0x1_0000).to_string();
        assert!(text.starts_with(insn.op.mnemonic()) || text.starts_with("illegal"));
    }
});
