//! Printing pre-decoded instructions in GNU assembler syntax (without pseudo-instructions), driven
//! by each op's [`Format`] from the instruction table.

use core::fmt;

use super::{Format, Insn, Op, DISCARD_REGISTER};
use crate::registers::INT_REGISTER_NAMES;

const FP_REGISTER_NAMES: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

fn x(register: u8) -> &'static str {
    if register == DISCARD_REGISTER {
        return "zero";
    }
    INT_REGISTER_NAMES
        .get(usize::from(register))
        .copied()
        .unwrap_or("?")
}

fn f(register: u8) -> &'static str {
    FP_REGISTER_NAMES
        .get(usize::from(register))
        .copied()
        .unwrap_or("?")
}

/// An instruction together with its address, so branch targets print as absolute addresses.
#[derive(Clone, Copy, Debug)]
pub struct Disassembly {
    pub insn: Insn,
    pub pc: u64,
}

impl Insn {
    /// A printable form of this instruction located at `pc`.
    pub fn disassemble(self, pc: u64) -> Disassembly {
        Disassembly { insn: self, pc }
    }
}

impl fmt::Display for Disassembly {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = self.insn;
        let name = i.op.mnemonic();
        let target = self.pc.wrapping_add(i.imm as i64 as u64);
        match i.op.format() {
            Format::None => write!(out, "{name}"),
            Format::R => write!(out, "{name} {}, {}, {}", x(i.rd), x(i.rs1), x(i.rs2)),
            Format::I => write!(out, "{name} {}, {}, {}", x(i.rd), x(i.rs1), i.imm),
            Format::Unary => write!(out, "{name} {}, {}", x(i.rd), x(i.rs1)),
            Format::Load => write!(out, "{name} {}, {}({})", x(i.rd), i.imm, x(i.rs1)),
            Format::Store => write!(out, "{name} {}, {}({})", x(i.rs2), i.imm, x(i.rs1)),
            Format::Branch => write!(out, "{name} {}, {}, {target:#x}", x(i.rs1), x(i.rs2)),
            Format::U => write!(out, "{name} {}, {:#x}", x(i.rd), (i.imm as u32) >> 12),
            Format::Jump => write!(out, "{name} {}, {target:#x}", x(i.rd)),
            Format::Amo if matches!(i.op, Op::LrW | Op::LrD) => {
                write!(out, "{name} {}, ({})", x(i.rd), x(i.rs1))
            }
            Format::Amo => write!(out, "{name} {}, {}, ({})", x(i.rd), x(i.rs2), x(i.rs1)),
            Format::Csr => write!(out, "{name} {}, {:#x}, {}", x(i.rd), i.imm, x(i.rs1)),
            Format::CsrImmediate => write!(out, "{name} {}, {:#x}, {}", x(i.rd), i.imm, i.rs1),
            Format::FpLoad => write!(out, "{name} {}, {}({})", f(i.rd), i.imm, x(i.rs1)),
            Format::FpStore => write!(out, "{name} {}, {}({})", f(i.rs2), i.imm, x(i.rs1)),
            Format::FpR => write!(out, "{name} {}, {}, {}", f(i.rd), f(i.rs1), f(i.rs2)),
            Format::FpR4 => write!(
                out,
                "{name} {}, {}, {}, {}",
                f(i.rd),
                f(i.rs1),
                f(i.rs2),
                f(i.rs3())
            ),
            Format::FpUnary => write!(out, "{name} {}, {}", f(i.rd), f(i.rs1)),
            Format::FpCompare => write!(out, "{name} {}, {}, {}", x(i.rd), f(i.rs1), f(i.rs2)),
            Format::FpToInt => write!(out, "{name} {}, {}", x(i.rd), f(i.rs1)),
            Format::IntToFp => write!(out, "{name} {}, {}", f(i.rd), x(i.rs1)),
            Format::Fence => write!(out, "{name}"),
            Format::Illegal => write!(out, "illegal {:#x}", i.imm as u32),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::decode::{decode, Xlen};

    fn text(word: u32, pc: u64) -> alloc::string::String {
        alloc::format!("{}", decode(word, Xlen::Rv64).disassemble(pc))
    }

    fn text_rv32(word: u32) -> alloc::string::String {
        alloc::format!("{}", decode(word, Xlen::Rv32).disassemble(0))
    }

    #[test]
    fn prints_like_the_gnu_disassembler_without_aliases() {
        assert_eq!(text(0xfff5_0513, 0), "addi a0, a0, -1");
        assert_eq!(text(0xfe11_3c23, 0), "sd ra, -8(sp)");
        assert_eq!(text(0xfeb5_0ee3, 0x1000), "beq a0, a1, 0xffc");
        assert_eq!(text(0x0000_0073, 0), "ecall");
        assert_eq!(text(0x0000_0013, 0), "addi zero, zero, 0");
        assert_eq!(text(0x02b5_0553, 0), "fadd.d fa0, fa0, fa1");
        assert_eq!(text(0x0805_c53b, 0), "zext.h a0, a1");
        assert_eq!(text(0x6215_d513, 0), "rori a0, a1, 33");
        assert_eq!(text(0x20c5_c53b, 0), "sh2add.uw a0, a1, a2");
    }

    #[test]
    fn rv32_code_prints_its_own_mnemonics() {
        // add, addi, clz, rori, rev8 and zext.h as a 32-bit program spells them.
        assert_eq!(text_rv32(0x00c5_8533), "add a0, a1, a2");
        assert_eq!(text_rv32(0xfff5_0513), "addi a0, a0, -1");
        assert_eq!(text_rv32(0x6005_9513), "clz a0, a1");
        assert_eq!(text_rv32(0x61f5_d513), "rori a0, a1, 31");
        assert_eq!(text_rv32(0x6985_d513), "rev8 a0, a1");
        assert_eq!(text_rv32(0x0805_c533), "zext.h a0, a1");
        // RV64-only encodings are illegal there.
        assert_eq!(text_rv32(0x0005_3503), "illegal 0x53503");
    }
}
