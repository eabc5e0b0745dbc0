//! Expansion of 16-bit RVC ("C" extension) instructions into their 32-bit
//! equivalents, so that the main decoder only has to understand 32-bit forms.
//!
//! Every legal compressed instruction is defined by the unprivileged spec as
//! shorthand for exactly one 32-bit instruction; [`expand`] produces that word.
//! HINT encodings are legal and expand to the instruction they are defined as
//! (which then writes `x0` or otherwise has no architectural effect).
//! Reserved encodings yield `None`, and the caller raises an illegal-instruction
//! exception.

use crate::xlen::Xlen;

// Quadrants: bits 1:0 of a compressed halfword. 0b11 marks a 32-bit instruction.
const QUADRANT_MASK: u16 = 0b11;
const QUADRANT_0: u16 = 0b00;
const QUADRANT_1: u16 = 0b01;
const QUADRANT_2: u16 = 0b10;

// Major opcodes of the 32-bit instructions that compressed forms expand to.
const OPCODE_LOAD: u32 = 0b000_0011;
const OPCODE_LOAD_FP: u32 = 0b000_0111;
const OPCODE_OP_IMM: u32 = 0b001_0011;
const OPCODE_OP_IMM_32: u32 = 0b001_1011;
const OPCODE_STORE: u32 = 0b010_0011;
const OPCODE_STORE_FP: u32 = 0b010_0111;
const OPCODE_OP: u32 = 0b011_0011;
const OPCODE_OP_32: u32 = 0b011_1011;
const OPCODE_LUI: u32 = 0b011_0111;
const OPCODE_BRANCH: u32 = 0b110_0011;
const OPCODE_JALR: u32 = 0b110_0111;
const OPCODE_JAL: u32 = 0b110_1111;

// funct3 values of the 32-bit forms.
const FUNCT3_WORD: u32 = 0b010; // LW, SW, FLW, FSW
const FUNCT3_DOUBLEWORD: u32 = 0b011; // LD, SD, FLD, FSD
const FUNCT3_ADD_SUB: u32 = 0b000; // ADDI, ADDIW, ADD, SUB, ADDW, SUBW
const FUNCT3_SHIFT_LEFT: u32 = 0b001;
const FUNCT3_SHIFT_RIGHT: u32 = 0b101;
const FUNCT3_XOR: u32 = 0b100;
const FUNCT3_OR: u32 = 0b110;
const FUNCT3_AND: u32 = 0b111;
const FUNCT3_BEQ: u32 = 0b000;
const FUNCT3_BNE: u32 = 0b001;
const FUNCT3_JALR: u32 = 0b000;

const FUNCT7_BASE: u32 = 0b000_0000;
const FUNCT7_SUB: u32 = 0b010_0000;
/// SRAI is SRLI with bit 30 set, which is bit 10 of the I-type immediate.
const SHIFT_ARITHMETIC_IMMEDIATE_BIT: u32 = 1 << 10;
/// RV32C reserves (for custom use) shift encodings with shamt[5] set.
const SHAMT_BIT_5: u32 = 1 << 5;

/// `ebreak` has no operands; its word is fixed.
const EBREAK_WORD: u32 = 0x0010_0073;

const REGISTER_ZERO: u32 = 0;
const REGISTER_RETURN_ADDRESS: u32 = 1;
const REGISTER_STACK_POINTER: u32 = 2;
/// The 3-bit register fields (rd', rs1', rs2') name x8..x15.
const COMPRESSED_REGISTER_BASE: u32 = 8;

/// Expands `halfword` to the equivalent 32-bit instruction word.
///
/// Returns `None` for reserved or illegal encodings (including the all-zero
/// halfword) and for halfwords whose low bits are `0b11`, which are not
/// compressed instructions at all.
pub fn expand(halfword: u16, xlen: Xlen) -> Option<u32> {
    match halfword & QUADRANT_MASK {
        QUADRANT_0 => expand_quadrant_0(halfword, xlen),
        QUADRANT_1 => expand_quadrant_1(halfword, xlen),
        QUADRANT_2 => expand_quadrant_2(halfword, xlen),
        _ => None,
    }
}

fn expand_quadrant_0(halfword: u16, xlen: Xlen) -> Option<u32> {
    let base = compressed_register(field(halfword, 7, 3));
    // rd' for loads, rs2' for stores: same bits.
    let data = compressed_register(field(halfword, 2, 3));
    match funct3(halfword) {
        0b000 => {
            // C.ADDI4SPN; nzuimm == 0 is reserved, which covers the all-zero halfword.
            let immediate = addi4spn_immediate(halfword);
            if immediate == 0 {
                return None;
            }
            Some(encode_i(
                OPCODE_OP_IMM,
                FUNCT3_ADD_SUB,
                data,
                REGISTER_STACK_POINTER,
                immediate,
            ))
        }
        0b001 => Some(encode_i(
            OPCODE_LOAD_FP,
            FUNCT3_DOUBLEWORD,
            data,
            base,
            doubleword_offset(halfword),
        )),
        0b010 => Some(encode_i(
            OPCODE_LOAD,
            FUNCT3_WORD,
            data,
            base,
            word_offset(halfword),
        )),
        0b011 => Some(match xlen {
            Xlen::Rv32 => encode_i(
                OPCODE_LOAD_FP,
                FUNCT3_WORD,
                data,
                base,
                word_offset(halfword),
            ),
            Xlen::Rv64 => encode_i(
                OPCODE_LOAD,
                FUNCT3_DOUBLEWORD,
                data,
                base,
                doubleword_offset(halfword),
            ),
        }),
        0b101 => Some(encode_s(
            OPCODE_STORE_FP,
            FUNCT3_DOUBLEWORD,
            base,
            data,
            doubleword_offset(halfword),
        )),
        0b110 => Some(encode_s(
            OPCODE_STORE,
            FUNCT3_WORD,
            base,
            data,
            word_offset(halfword),
        )),
        0b111 => Some(match xlen {
            Xlen::Rv32 => encode_s(
                OPCODE_STORE_FP,
                FUNCT3_WORD,
                base,
                data,
                word_offset(halfword),
            ),
            Xlen::Rv64 => encode_s(
                OPCODE_STORE,
                FUNCT3_DOUBLEWORD,
                base,
                data,
                doubleword_offset(halfword),
            ),
        }),
        // 0b100 is reserved.
        _ => None,
    }
}

fn expand_quadrant_1(halfword: u16, xlen: Xlen) -> Option<u32> {
    let rd = field(halfword, 7, 5);
    match funct3(halfword) {
        // C.NOP / C.ADDI; the rd=0 and imm=0 variants are HINTs and expand the same way.
        0b000 => Some(encode_i(
            OPCODE_OP_IMM,
            FUNCT3_ADD_SUB,
            rd,
            rd,
            six_bit_signed_immediate(halfword),
        )),
        0b001 => match xlen {
            Xlen::Rv32 => Some(encode_j(REGISTER_RETURN_ADDRESS, jump_offset(halfword))),
            Xlen::Rv64 => {
                // C.ADDIW with rd=0 is reserved (not a HINT).
                if rd == REGISTER_ZERO {
                    return None;
                }
                Some(encode_i(
                    OPCODE_OP_IMM_32,
                    FUNCT3_ADD_SUB,
                    rd,
                    rd,
                    six_bit_signed_immediate(halfword),
                ))
            }
        },
        // C.LI; rd=0 is a HINT.
        0b010 => Some(encode_i(
            OPCODE_OP_IMM,
            FUNCT3_ADD_SUB,
            rd,
            REGISTER_ZERO,
            six_bit_signed_immediate(halfword),
        )),
        0b011 => {
            if rd == REGISTER_STACK_POINTER {
                let immediate = addi16sp_immediate(halfword);
                if immediate == 0 {
                    return None;
                }
                Some(encode_i(
                    OPCODE_OP_IMM,
                    FUNCT3_ADD_SUB,
                    REGISTER_STACK_POINTER,
                    REGISTER_STACK_POINTER,
                    immediate,
                ))
            } else {
                // C.LUI; a zero immediate is reserved, rd=0 with a nonzero one is a HINT.
                let upper_immediate = lui_immediate(halfword);
                if upper_immediate == 0 {
                    return None;
                }
                Some(encode_u(OPCODE_LUI, rd, upper_immediate))
            }
        }
        0b100 => expand_quadrant_1_arithmetic(halfword, xlen),
        0b101 => Some(encode_j(REGISTER_ZERO, jump_offset(halfword))),
        0b110 => Some(encode_b(
            FUNCT3_BEQ,
            compressed_register(field(halfword, 7, 3)),
            REGISTER_ZERO,
            branch_offset(halfword),
        )),
        0b111 => Some(encode_b(
            FUNCT3_BNE,
            compressed_register(field(halfword, 7, 3)),
            REGISTER_ZERO,
            branch_offset(halfword),
        )),
        _ => None,
    }
}

/// Quadrant 1, funct3 = 100: shifts, C.ANDI and the register-register ALU forms,
/// all on the compressed register set.
fn expand_quadrant_1_arithmetic(halfword: u16, xlen: Xlen) -> Option<u32> {
    let rd = compressed_register(field(halfword, 7, 3));
    let rs2 = compressed_register(field(halfword, 2, 3));
    match field(halfword, 10, 2) {
        0b00 => {
            let shamt = checked_shift_amount(halfword, xlen)?;
            Some(encode_i(OPCODE_OP_IMM, FUNCT3_SHIFT_RIGHT, rd, rd, shamt))
        }
        0b01 => {
            let shamt = checked_shift_amount(halfword, xlen)?;
            Some(encode_i(
                OPCODE_OP_IMM,
                FUNCT3_SHIFT_RIGHT,
                rd,
                rd,
                shamt | SHIFT_ARITHMETIC_IMMEDIATE_BIT,
            ))
        }
        0b10 => Some(encode_i(
            OPCODE_OP_IMM,
            FUNCT3_AND,
            rd,
            rd,
            six_bit_signed_immediate(halfword),
        )),
        _ => {
            let is_word_operation = field(halfword, 12, 1) == 1;
            let (opcode, funct3, funct7) = match (is_word_operation, field(halfword, 5, 2), xlen) {
                (false, 0b00, _) => (OPCODE_OP, FUNCT3_ADD_SUB, FUNCT7_SUB),
                (false, 0b01, _) => (OPCODE_OP, FUNCT3_XOR, FUNCT7_BASE),
                (false, 0b10, _) => (OPCODE_OP, FUNCT3_OR, FUNCT7_BASE),
                (false, _, _) => (OPCODE_OP, FUNCT3_AND, FUNCT7_BASE),
                (true, 0b00, Xlen::Rv64) => (OPCODE_OP_32, FUNCT3_ADD_SUB, FUNCT7_SUB),
                (true, 0b01, Xlen::Rv64) => (OPCODE_OP_32, FUNCT3_ADD_SUB, FUNCT7_BASE),
                // C.SUBW/C.ADDW on RV32, and the two remaining slots on either XLEN.
                (true, _, _) => return None,
            };
            Some(encode_r(opcode, funct3, funct7, rd, rd, rs2))
        }
    }
}

fn expand_quadrant_2(halfword: u16, xlen: Xlen) -> Option<u32> {
    let rd = field(halfword, 7, 5);
    let rs2 = field(halfword, 2, 5);
    match funct3(halfword) {
        // C.SLLI; rd=0 and shamt=0 (C.SLLI64) are HINTs.
        0b000 => {
            let shamt = checked_shift_amount(halfword, xlen)?;
            Some(encode_i(OPCODE_OP_IMM, FUNCT3_SHIFT_LEFT, rd, rd, shamt))
        }
        // C.FLDSP: any f register, including f0.
        0b001 => Some(encode_i(
            OPCODE_LOAD_FP,
            FUNCT3_DOUBLEWORD,
            rd,
            REGISTER_STACK_POINTER,
            doubleword_stack_load_offset(halfword),
        )),
        0b010 => {
            // C.LWSP with rd=0 is reserved.
            if rd == REGISTER_ZERO {
                return None;
            }
            Some(encode_i(
                OPCODE_LOAD,
                FUNCT3_WORD,
                rd,
                REGISTER_STACK_POINTER,
                word_stack_load_offset(halfword),
            ))
        }
        0b011 => match xlen {
            // C.FLWSP: f0 is a valid destination.
            Xlen::Rv32 => Some(encode_i(
                OPCODE_LOAD_FP,
                FUNCT3_WORD,
                rd,
                REGISTER_STACK_POINTER,
                word_stack_load_offset(halfword),
            )),
            Xlen::Rv64 => {
                // C.LDSP with rd=0 is reserved.
                if rd == REGISTER_ZERO {
                    return None;
                }
                Some(encode_i(
                    OPCODE_LOAD,
                    FUNCT3_DOUBLEWORD,
                    rd,
                    REGISTER_STACK_POINTER,
                    doubleword_stack_load_offset(halfword),
                ))
            }
        },
        0b100 => {
            let bit_12_set = field(halfword, 12, 1) == 1;
            match (bit_12_set, rd, rs2) {
                // C.JR with rs1=0 is reserved.
                (false, REGISTER_ZERO, REGISTER_ZERO) => None,
                (false, rs1, REGISTER_ZERO) => {
                    Some(encode_i(OPCODE_JALR, FUNCT3_JALR, REGISTER_ZERO, rs1, 0))
                }
                // C.MV; rd=0 is a HINT.
                (false, rd, rs2) => Some(encode_r(
                    OPCODE_OP,
                    FUNCT3_ADD_SUB,
                    FUNCT7_BASE,
                    rd,
                    REGISTER_ZERO,
                    rs2,
                )),
                (true, REGISTER_ZERO, REGISTER_ZERO) => Some(EBREAK_WORD),
                (true, rs1, REGISTER_ZERO) => Some(encode_i(
                    OPCODE_JALR,
                    FUNCT3_JALR,
                    REGISTER_RETURN_ADDRESS,
                    rs1,
                    0,
                )),
                // C.ADD; rd=0 is a HINT.
                (true, rd, rs2) => Some(encode_r(
                    OPCODE_OP,
                    FUNCT3_ADD_SUB,
                    FUNCT7_BASE,
                    rd,
                    rd,
                    rs2,
                )),
            }
        }
        0b101 => Some(encode_s(
            OPCODE_STORE_FP,
            FUNCT3_DOUBLEWORD,
            REGISTER_STACK_POINTER,
            rs2,
            doubleword_stack_store_offset(halfword),
        )),
        0b110 => Some(encode_s(
            OPCODE_STORE,
            FUNCT3_WORD,
            REGISTER_STACK_POINTER,
            rs2,
            word_stack_store_offset(halfword),
        )),
        0b111 => Some(match xlen {
            Xlen::Rv32 => encode_s(
                OPCODE_STORE_FP,
                FUNCT3_WORD,
                REGISTER_STACK_POINTER,
                rs2,
                word_stack_store_offset(halfword),
            ),
            Xlen::Rv64 => encode_s(
                OPCODE_STORE,
                FUNCT3_DOUBLEWORD,
                REGISTER_STACK_POINTER,
                rs2,
                doubleword_stack_store_offset(halfword),
            ),
        }),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Field extraction. `field(h, low, width)` reads `width` bits starting at bit
// `low`; `place` additionally moves them to bit `destination_low` of an
// immediate, so each immediate below reads like the spec's bit-order diagram.
// All widths are small constants, so no shift here can exceed 31.

fn field(halfword: u16, low: u32, width: u32) -> u32 {
    let mask = u32::MAX
        .checked_shl(width)
        .map_or(u32::MAX, |high_bits| !high_bits);
    u32::from(halfword).checked_shr(low).unwrap_or(0) & mask
}

fn place(halfword: u16, source_low: u32, width: u32, destination_low: u32) -> u32 {
    field(halfword, source_low, width) << destination_low
}

fn funct3(halfword: u16) -> u32 {
    field(halfword, 13, 3)
}

fn compressed_register(three_bit_field: u32) -> u32 {
    COMPRESSED_REGISTER_BASE | (three_bit_field & 0b111)
}

/// Sign-extends the low `width` bits (1..=32) of `value` to a 32-bit
/// two's-complement pattern: shift the sign bit to bit 31, then shift back
/// arithmetically.
fn sign_extend(value: u32, width: u32) -> u32 {
    let unused_high_bits = u32::BITS.saturating_sub(width);
    value
        .wrapping_shl(unused_high_bits)
        .cast_signed()
        .wrapping_shr(unused_high_bits)
        .cast_unsigned()
}

/// CIW format, C.ADDI4SPN: nzuimm[5:4|9:6|2|3] in bits 12:5.
fn addi4spn_immediate(halfword: u16) -> u32 {
    place(halfword, 11, 2, 4)
        | place(halfword, 7, 4, 6)
        | place(halfword, 6, 1, 2)
        | place(halfword, 5, 1, 3)
}

/// CL/CS format, word access: uimm[5:3] in bits 12:10, uimm[2|6] in bits 6:5.
fn word_offset(halfword: u16) -> u32 {
    place(halfword, 10, 3, 3) | place(halfword, 6, 1, 2) | place(halfword, 5, 1, 6)
}

/// CL/CS format, doubleword access: uimm[5:3] in bits 12:10, uimm[7:6] in bits 6:5.
fn doubleword_offset(halfword: u16) -> u32 {
    place(halfword, 10, 3, 3) | place(halfword, 5, 2, 6)
}

/// CI format: imm[5] in bit 12, imm[4:0] in bits 6:2, sign-extended.
fn six_bit_signed_immediate(halfword: u16) -> u32 {
    sign_extend(place(halfword, 12, 1, 5) | place(halfword, 2, 5, 0), 6)
}

/// Shift amount of C.SLLI/C.SRLI/C.SRAI: shamt[5] in bit 12, shamt[4:0] in bits 6:2.
/// RV32 encodings with shamt[5] set are reserved.
fn checked_shift_amount(halfword: u16, xlen: Xlen) -> Option<u32> {
    let shamt = place(halfword, 12, 1, 5) | place(halfword, 2, 5, 0);
    if xlen == Xlen::Rv32 && shamt & SHAMT_BIT_5 != 0 {
        return None;
    }
    Some(shamt)
}

/// C.ADDI16SP: nzimm[9] in bit 12, nzimm[4|6|8:7|5] in bits 6:2, sign-extended.
fn addi16sp_immediate(halfword: u16) -> u32 {
    let immediate = place(halfword, 12, 1, 9)
        | place(halfword, 6, 1, 4)
        | place(halfword, 5, 1, 6)
        | place(halfword, 3, 2, 7)
        | place(halfword, 2, 1, 5);
    sign_extend(immediate, 10)
}

/// C.LUI: nzimm[17] in bit 12, nzimm[16:12] in bits 6:2, sign-extended; the
/// result is the full value loaded into rd (low 12 bits zero).
fn lui_immediate(halfword: u16) -> u32 {
    sign_extend(place(halfword, 12, 1, 17) | place(halfword, 2, 5, 12), 18)
}

/// CJ format (C.J, C.JAL): offset[11|4|9:8|10|6|7|3:1|5] in bits 12:2.
fn jump_offset(halfword: u16) -> u32 {
    let offset = place(halfword, 12, 1, 11)
        | place(halfword, 11, 1, 4)
        | place(halfword, 9, 2, 8)
        | place(halfword, 8, 1, 10)
        | place(halfword, 7, 1, 6)
        | place(halfword, 6, 1, 7)
        | place(halfword, 3, 3, 1)
        | place(halfword, 2, 1, 5);
    sign_extend(offset, 12)
}

/// CB format (C.BEQZ, C.BNEZ): offset[8|4:3] in bits 12:10, offset[7:6|2:1|5] in bits 6:2.
fn branch_offset(halfword: u16) -> u32 {
    let offset = place(halfword, 12, 1, 8)
        | place(halfword, 10, 2, 3)
        | place(halfword, 5, 2, 6)
        | place(halfword, 3, 2, 1)
        | place(halfword, 2, 1, 5);
    sign_extend(offset, 9)
}

/// C.LWSP/C.FLWSP: uimm[5] in bit 12, uimm[4:2|7:6] in bits 6:2.
fn word_stack_load_offset(halfword: u16) -> u32 {
    place(halfword, 12, 1, 5) | place(halfword, 4, 3, 2) | place(halfword, 2, 2, 6)
}

/// C.LDSP/C.FLDSP: uimm[5] in bit 12, uimm[4:3|8:6] in bits 6:2.
fn doubleword_stack_load_offset(halfword: u16) -> u32 {
    place(halfword, 12, 1, 5) | place(halfword, 5, 2, 3) | place(halfword, 2, 3, 6)
}

/// C.SWSP/C.FSWSP: uimm[5:2|7:6] in bits 12:7.
fn word_stack_store_offset(halfword: u16) -> u32 {
    place(halfword, 9, 4, 2) | place(halfword, 7, 2, 6)
}

/// C.SDSP/C.FSDSP: uimm[5:3|8:6] in bits 12:7.
fn doubleword_stack_store_offset(halfword: u16) -> u32 {
    place(halfword, 10, 3, 3) | place(halfword, 7, 3, 6)
}

// ---------------------------------------------------------------------------
// 32-bit instruction formats. Immediates are 32-bit two's-complement patterns;
// each encoder takes only the bits its format holds.

fn encode_r(opcode: u32, funct3: u32, funct7: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode
}

fn encode_i(opcode: u32, funct3: u32, rd: u32, rs1: u32, immediate: u32) -> u32 {
    ((immediate & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode
}

fn encode_s(opcode: u32, funct3: u32, rs1: u32, rs2: u32, immediate: u32) -> u32 {
    let high = (immediate >> 5) & 0x7f;
    let low = immediate & 0x1f;
    (high << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (low << 7) | opcode
}

fn encode_b(funct3: u32, rs1: u32, rs2: u32, offset: u32) -> u32 {
    let bit_12 = (offset >> 12) & 0x1;
    let bits_10_5 = (offset >> 5) & 0x3f;
    let bits_4_1 = (offset >> 1) & 0xf;
    let bit_11 = (offset >> 11) & 0x1;
    (bit_12 << 31)
        | (bits_10_5 << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (funct3 << 12)
        | (bits_4_1 << 8)
        | (bit_11 << 7)
        | OPCODE_BRANCH
}

fn encode_u(opcode: u32, rd: u32, value: u32) -> u32 {
    (value & 0xffff_f000) | (rd << 7) | opcode
}

fn encode_j(rd: u32, offset: u32) -> u32 {
    let bit_20 = (offset >> 20) & 0x1;
    let bits_10_1 = (offset >> 1) & 0x3ff;
    let bit_11 = (offset >> 11) & 0x1;
    let bits_19_12 = (offset >> 12) & 0xff;
    (bit_20 << 31)
        | (bits_10_1 << 21)
        | (bit_11 << 20)
        | (bits_19_12 << 12)
        | (rd << 7)
        | OPCODE_JAL
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (halfword, expected 32-bit word, description). Both columns were produced
    /// by the GNU assembler (binutils 2.40): the compressed form assembled with
    /// RVC enabled and the expansion with `.option norvc`. HINT halfwords, which
    /// the assembler does not accept, were written with `.hword`; their
    /// expansions are still assembler output.
    const RV64_VECTORS: &[(u16, u32, &str)] = &[
        (0x0048, 0x00410513, "c.addi4spn a0, sp, 4 => addi a0, sp, 4"),
        (0x0020, 0x00810413, "c.addi4spn s0, sp, 8 => addi s0, sp, 8"),
        (
            0x181c,
            0x03010793,
            "c.addi4spn a5, sp, 48 => addi a5, sp, 48",
        ),
        (
            0x0784,
            0x3c010493,
            "c.addi4spn s1, sp, 960 => addi s1, sp, 960",
        ),
        (
            0x1fe0,
            0x3fc10413,
            "c.addi4spn s0, sp, 1020 => addi s0, sp, 1020",
        ),
        (0x2188, 0x0005b507, "c.fld fa0, 0(a1) => fld fa0, 0(a1)"),
        (0x3fe4, 0x0f87b487, "c.fld fs1, 248(a5) => fld fs1, 248(a5)"),
        (0x243c, 0x04843787, "c.fld fa5, 72(s0) => fld fa5, 72(s0)"),
        (0x2140, 0x08053407, "c.fld fs0, 128(a0) => fld fs0, 128(a0)"),
        (0x4188, 0x0005a503, "c.lw a0, 0(a1) => lw a0, 0(a1)"),
        (0x5c7c, 0x07c42783, "c.lw a5, 124(s0) => lw a5, 124(s0)"),
        (0x4244, 0x00462483, "c.lw s1, 4(a2) => lw s1, 4(a2)"),
        (0x4334, 0x04072683, "c.lw a3, 64(a4) => lw a3, 64(a4)"),
        (0x6188, 0x0005b503, "c.ld a0, 0(a1) => ld a0, 0(a1)"),
        (0x7c7c, 0x0f843783, "c.ld a5, 248(s0) => ld a5, 248(s0)"),
        (0x6604, 0x00863483, "c.ld s1, 8(a2) => ld s1, 8(a2)"),
        (0x6374, 0x0c073683, "c.ld a3, 192(a4) => ld a3, 192(a4)"),
        (0xbfe8, 0x0ea7bc27, "c.fsd fa0, 248(a5) => fsd fa0, 248(a5)"),
        (0xa000, 0x00843027, "c.fsd fs0, 0(s0) => fsd fs0, 0(s0)"),
        (0xa654, 0x08d63427, "c.fsd fa3, 136(a2) => fsd fa3, 136(a2)"),
        (0xdde8, 0x06a5ae23, "c.sw a0, 124(a1) => sw a0, 124(a1)"),
        (0xc380, 0x0087a023, "c.sw s0, 0(a5) => sw s0, 0(a5)"),
        (0xc0f0, 0x04c4a223, "c.sw a2, 68(s1) => sw a2, 68(s1)"),
        (0xfde8, 0x0ea5bc23, "c.sd a0, 248(a1) => sd a0, 248(a1)"),
        (0xe01c, 0x00f43023, "c.sd a5, 0(s0) => sd a5, 0(s0)"),
        (0xe6c4, 0x0896b423, "c.sd s1, 136(a3) => sd s1, 136(a3)"),
        (0x0001, 0x00000013, "c.nop => addi x0, x0, 0"),
        (0x0005, 0x00100013, "c.nop 1 (HINT) => addi x0, x0, 1"),
        (0x107d, 0xfff00013, "c.nop -1 (HINT) => addi x0, x0, -1"),
        (0x1501, 0xfe050513, "c.addi a0, -32 => addi a0, a0, -32"),
        (0x02fd, 0x01f28293, "c.addi t0, 31 => addi t0, t0, 31"),
        (0x0d85, 0x001d8d93, "c.addi s11, 1 => addi s11, s11, 1"),
        (0x117d, 0xfff10113, "c.addi sp, -1 => addi sp, sp, -1"),
        (0x0501, 0x00050513, "c.addi a0, 0 (HINT) => addi a0, a0, 0"),
        (0x3501, 0xfe05051b, "c.addiw a0, -32 => addiw a0, a0, -32"),
        (0x2ffd, 0x01ff8f9b, "c.addiw t6, 31 => addiw t6, t6, 31"),
        (0x2501, 0x0005051b, "c.addiw a0, 0 => addiw a0, a0, 0"),
        (0x5501, 0xfe000513, "c.li a0, -32 => addi a0, x0, -32"),
        (0x40fd, 0x01f00093, "c.li ra, 31 => addi ra, x0, 31"),
        (0x4f81, 0x00000f93, "c.li t6, 0 => addi t6, x0, 0"),
        (0x4005, 0x00100013, "c.li x0, 1 (HINT) => addi x0, x0, 1"),
        (
            0x7101,
            0xe0010113,
            "c.addi16sp sp, -512 => addi sp, sp, -512",
        ),
        (0x617d, 0x1f010113, "c.addi16sp sp, 496 => addi sp, sp, 496"),
        (0x6141, 0x01010113, "c.addi16sp sp, 16 => addi sp, sp, 16"),
        (0x6105, 0x02010113, "c.addi16sp sp, 32 => addi sp, sp, 32"),
        (0x6121, 0x04010113, "c.addi16sp sp, 64 => addi sp, sp, 64"),
        (0x6109, 0x08010113, "c.addi16sp sp, 128 => addi sp, sp, 128"),
        (0x6111, 0x10010113, "c.addi16sp sp, 256 => addi sp, sp, 256"),
        (0x717d, 0xff010113, "c.addi16sp sp, -16 => addi sp, sp, -16"),
        (0x6505, 0x00001537, "c.lui a0, 1 => lui a0, 1"),
        (0x62fd, 0x0001f2b7, "c.lui t0, 31 => lui t0, 31"),
        (0x7501, 0xfffe0537, "c.lui a0, 0xfffe0 => lui a0, 0xfffe0"),
        (0x7dfd, 0xfffffdb7, "c.lui s11, 0xfffff => lui s11, 0xfffff"),
        (0x60c1, 0x000100b7, "c.lui ra, 16 => lui ra, 16"),
        (0x6005, 0x00001037, "c.lui x0, 1 (HINT) => lui x0, 1"),
        (0x8105, 0x00155513, "c.srli a0, 1 => srli a0, a0, 1"),
        (0x907d, 0x03f45413, "c.srli s0, 63 => srli s0, s0, 63"),
        (0x9381, 0x0207d793, "c.srli a5, 32 => srli a5, a5, 32"),
        (0x8101, 0x00055513, "c.srli64 a0 (HINT) => srli a0, a0, 0"),
        (0x8505, 0x40155513, "c.srai a0, 1 => srai a0, a0, 1"),
        (0x94fd, 0x43f4d493, "c.srai s1, 63 => srai s1, s1, 63"),
        (0x9701, 0x42075713, "c.srai a4, 32 => srai a4, a4, 32"),
        (0x8501, 0x40055513, "c.srai64 a0 (HINT) => srai a0, a0, 0"),
        (0x9901, 0xfe057513, "c.andi a0, -32 => andi a0, a0, -32"),
        (0x8bfd, 0x01f7f793, "c.andi a5, 31 => andi a5, a5, 31"),
        (0x8801, 0x00047413, "c.andi s0, 0 => andi s0, s0, 0"),
        (0x98fd, 0xfff4f493, "c.andi s1, -1 => andi s1, s1, -1"),
        (0x8d0d, 0x40b50533, "c.sub a0, a1 => sub a0, a0, a1"),
        (0x8c1d, 0x40f40433, "c.sub s0, a5 => sub s0, s0, a5"),
        (0x8fa1, 0x0087c7b3, "c.xor a5, s0 => xor a5, a5, s0"),
        (0x8cd1, 0x00c4e4b3, "c.or s1, a2 => or s1, s1, a2"),
        (0x8ef9, 0x00e6f6b3, "c.and a3, a4 => and a3, a3, a4"),
        (0x9d0d, 0x40b5053b, "c.subw a0, a1 => subw a0, a0, a1"),
        (0x9f81, 0x408787bb, "c.subw a5, s0 => subw a5, a5, s0"),
        (0x9c3d, 0x00f4043b, "c.addw s0, a5 => addw s0, s0, a5"),
        (0x9e35, 0x00d6063b, "c.addw a2, a3 => addw a2, a2, a3"),
        (0xaffd, 0x7fe0006f, "c.j .+2046 => jal x0, .+2046"),
        (0xb001, 0x801ff06f, "c.j .-2048 => jal x0, .-2048"),
        (0xa001, 0x0000006f, "c.j .+0 => jal x0, .+0"),
        (0xa009, 0x0020006f, "c.j .+2 => jal x0, .+2"),
        (0xa011, 0x0040006f, "c.j .+4 => jal x0, .+4"),
        (0xa021, 0x0080006f, "c.j .+8 => jal x0, .+8"),
        (0xa801, 0x0100006f, "c.j .+16 => jal x0, .+16"),
        (0xa005, 0x0200006f, "c.j .+32 => jal x0, .+32"),
        (0xa081, 0x0400006f, "c.j .+64 => jal x0, .+64"),
        (0xa041, 0x0800006f, "c.j .+128 => jal x0, .+128"),
        (0xa201, 0x1000006f, "c.j .+256 => jal x0, .+256"),
        (0xa401, 0x2000006f, "c.j .+512 => jal x0, .+512"),
        (0xa101, 0x4000006f, "c.j .+1024 => jal x0, .+1024"),
        (0xbffd, 0xfffff06f, "c.j .-2 => jal x0, .-2"),
        (0xd101, 0xf00500e3, "c.beqz a0, .-256 => beq a0, x0, .-256"),
        (0xcffd, 0x0e078f63, "c.beqz a5, .+254 => beq a5, x0, .+254"),
        (0xc009, 0x00040163, "c.beqz s0, .+2 => beq s0, x0, .+2"),
        (0xc091, 0x00048263, "c.beqz s1, .+4 => beq s1, x0, .+4"),
        (0xc601, 0x00060463, "c.beqz a2, .+8 => beq a2, x0, .+8"),
        (0xca81, 0x00068863, "c.beqz a3, .+16 => beq a3, x0, .+16"),
        (0xc305, 0x02070063, "c.beqz a4, .+32 => beq a4, x0, .+32"),
        (0xc1a1, 0x04058063, "c.beqz a1, .+64 => beq a1, x0, .+64"),
        (0xc141, 0x08050063, "c.beqz a0, .+128 => beq a0, x0, .+128"),
        (0xdd7d, 0xfe050fe3, "c.beqz a0, .-2 => beq a0, x0, .-2"),
        (0xf001, 0xf00410e3, "c.bnez s0, .-256 => bne s0, x0, .-256"),
        (0xedfd, 0x0e059f63, "c.bnez a1, .+254 => bne a1, x0, .+254"),
        (0xe381, 0x00079063, "c.bnez a5, .+0 => bne a5, x0, .+0"),
        (0x0506, 0x00151513, "c.slli a0, 1 => slli a0, a0, 1"),
        (0x1ffe, 0x03ff9f93, "c.slli t6, 63 => slli t6, t6, 63"),
        (0x1082, 0x02009093, "c.slli ra, 32 => slli ra, ra, 32"),
        (0x017e, 0x01f11113, "c.slli sp, 31 => slli sp, sp, 31"),
        (0x0006, 0x00101013, "c.slli x0, 1 (HINT) => slli x0, x0, 1"),
        (0x0502, 0x00051513, "c.slli64 a0 (HINT) => slli a0, a0, 0"),
        (0x0002, 0x00001013, "c.slli64 x0 (HINT) => slli x0, x0, 0"),
        (0x2502, 0x00013507, "c.fldsp fa0, 0(sp) => fld fa0, 0(sp)"),
        (
            0x307e,
            0x1f813007,
            "c.fldsp ft0, 504(sp) => fld ft0, 504(sp)",
        ),
        (0x2da2, 0x00813d87, "c.fldsp fs11, 8(sp) => fld fs11, 8(sp)"),
        (0x3582, 0x02013587, "c.fldsp fa1, 32(sp) => fld fa1, 32(sp)"),
        (
            0x2f86,
            0x04013f87,
            "c.fldsp ft11, 64(sp) => fld ft11, 64(sp)",
        ),
        (0x4502, 0x00012503, "c.lwsp a0, 0(sp) => lw a0, 0(sp)"),
        (0x50fe, 0x0fc12083, "c.lwsp ra, 252(sp) => lw ra, 252(sp)"),
        (0x4f92, 0x00412f83, "c.lwsp t6, 4(sp) => lw t6, 4(sp)"),
        (0x5102, 0x02012103, "c.lwsp sp, 32(sp) => lw sp, 32(sp)"),
        (0x4906, 0x04012903, "c.lwsp s2, 64(sp) => lw s2, 64(sp)"),
        (0x6502, 0x00013503, "c.ldsp a0, 0(sp) => ld a0, 0(sp)"),
        (0x7ffe, 0x1f813f83, "c.ldsp t6, 504(sp) => ld t6, 504(sp)"),
        (0x60a2, 0x00813083, "c.ldsp ra, 8(sp) => ld ra, 8(sp)"),
        (0x7982, 0x02013983, "c.ldsp s3, 32(sp) => ld s3, 32(sp)"),
        (0x6186, 0x04013183, "c.ldsp gp, 64(sp) => ld gp, 64(sp)"),
        (0x8082, 0x00008067, "c.jr ra => jalr x0, 0(ra)"),
        (0x8f82, 0x000f8067, "c.jr t6 => jalr x0, 0(t6)"),
        (0x852e, 0x00b00533, "c.mv a0, a1 => add a0, x0, a1"),
        (0x8f86, 0x00100fb3, "c.mv t6, ra => add t6, x0, ra"),
        (0x80fe, 0x01f000b3, "c.mv ra, t6 => add ra, x0, t6"),
        (0x802a, 0x00a00033, "c.mv x0, a0 (HINT) => add x0, x0, a0"),
        (0x9002, 0x00100073, "c.ebreak => ebreak"),
        (0x9502, 0x000500e7, "c.jalr a0 => jalr ra, 0(a0)"),
        (0x9082, 0x000080e7, "c.jalr ra => jalr ra, 0(ra)"),
        (0x9f82, 0x000f80e7, "c.jalr t6 => jalr ra, 0(t6)"),
        (0x952e, 0x00b50533, "c.add a0, a1 => add a0, a0, a1"),
        (0x9f86, 0x001f8fb3, "c.add t6, ra => add t6, t6, ra"),
        (0x90fe, 0x01f080b3, "c.add ra, t6 => add ra, ra, t6"),
        (0x902a, 0x00a00033, "c.add x0, a0 (HINT) => add x0, x0, a0"),
        (0xa02a, 0x00a13027, "c.fsdsp fa0, 0(sp) => fsd fa0, 0(sp)"),
        (
            0xbfee,
            0x1fb13c27,
            "c.fsdsp fs11, 504(sp) => fsd fs11, 504(sp)",
        ),
        (0xa486, 0x04113427, "c.fsdsp ft1, 72(sp) => fsd ft1, 72(sp)"),
        (0xc02a, 0x00a12023, "c.swsp a0, 0(sp) => sw a0, 0(sp)"),
        (0xdf86, 0x0e112e23, "c.swsp ra, 252(sp) => sw ra, 252(sp)"),
        (0xc2fe, 0x05f12223, "c.swsp t6, 68(sp) => sw t6, 68(sp)"),
        (0xe02a, 0x00a13023, "c.sdsp a0, 0(sp) => sd a0, 0(sp)"),
        (0xfffe, 0x1ff13c23, "c.sdsp t6, 504(sp) => sd t6, 504(sp)"),
        (0xe486, 0x04113423, "c.sdsp ra, 72(sp) => sd ra, 72(sp)"),
        (0xe402, 0x00013423, "c.sdsp zero, 8(sp) => sd zero, 8(sp)"),
        (0x1506, 0x02151513, "c.slli a0, 33 => slli a0, a0, 33"),
        (0x9101, 0x02055513, "c.srli a0, 32 => srli a0, a0, 32"),
        (0x9501, 0x42055513, "c.srai a0, 32 => srai a0, a0, 32"),
        (0x9c01, 0x4084043b, "c.subw s0, s0 => subw s0, s0, s0"),
        (0x6f82, 0x00013f83, "c.ldsp t6, 0(sp) => ld t6, 0(sp)"),
    ];

    const RV32_VECTORS: &[(u16, u32, &str)] = &[
        (0x2ffd, 0x7fe000ef, "c.jal .+2046 => jal ra, .+2046"),
        (0x3001, 0x801ff0ef, "c.jal .-2048 => jal ra, .-2048"),
        (0x2001, 0x000000ef, "c.jal .+0 => jal ra, .+0"),
        (0x2b89, 0x552000ef, "c.jal .+1362 => jal ra, .+1362"),
        (0x7de8, 0x07c5a507, "c.flw fa0, 124(a1) => flw fa0, 124(a1)"),
        (0x6380, 0x0007a407, "c.flw fs0, 0(a5) => flw fs0, 0(a5)"),
        (0x60f0, 0x0444a607, "c.flw fa2, 68(s1) => flw fa2, 68(s1)"),
        (0xfde8, 0x06a5ae27, "c.fsw fa0, 124(a1) => fsw fa0, 124(a1)"),
        (0xe2c4, 0x0096a227, "c.fsw fs1, 4(a3) => fsw fs1, 4(a3)"),
        (
            0x757e,
            0x0fc12507,
            "c.flwsp fa0, 252(sp) => flw fa0, 252(sp)",
        ),
        (0x6002, 0x00012007, "c.flwsp ft0, 0(sp) => flw ft0, 0(sp)"),
        (
            0x6f96,
            0x04412f87,
            "c.flwsp ft11, 68(sp) => flw ft11, 68(sp)",
        ),
        (
            0xffaa,
            0x0ea12e27,
            "c.fswsp fa0, 252(sp) => fsw fa0, 252(sp)",
        ),
        (0xe002, 0x00012027, "c.fswsp ft0, 0(sp) => fsw ft0, 0(sp)"),
        (
            0xe2ee,
            0x05b12227,
            "c.fswsp fs11, 68(sp) => fsw fs11, 68(sp)",
        ),
        (
            0x1fe0,
            0x3fc10413,
            "c.addi4spn s0, sp, 1020 => addi s0, sp, 1020",
        ),
        (0x5c7c, 0x07c42783, "c.lw a5, 124(s0) => lw a5, 124(s0)"),
        (0xdde8, 0x06a5ae23, "c.sw a0, 124(a1) => sw a0, 124(a1)"),
        (0x3fe4, 0x0f87b487, "c.fld fs1, 248(a5) => fld fs1, 248(a5)"),
        (0xbfe8, 0x0ea7bc27, "c.fsd fa0, 248(a5) => fsd fa0, 248(a5)"),
        (0x1501, 0xfe050513, "c.addi a0, -32 => addi a0, a0, -32"),
        (0x457d, 0x01f00513, "c.li a0, 31 => addi a0, x0, 31"),
        (0x7501, 0xfffe0537, "c.lui a0, 0xfffe0 => lui a0, 0xfffe0"),
        (
            0x7101,
            0xe0010113,
            "c.addi16sp sp, -512 => addi sp, sp, -512",
        ),
        (0x817d, 0x01f55513, "c.srli a0, 31 => srli a0, a0, 31"),
        (0x84fd, 0x41f4d493, "c.srai s1, 31 => srai s1, s1, 31"),
        (0x9b81, 0xfe07f793, "c.andi a5, -32 => andi a5, a5, -32"),
        (0x8d0d, 0x40b50533, "c.sub a0, a1 => sub a0, a0, a1"),
        (0x8ef9, 0x00e6f6b3, "c.and a3, a4 => and a3, a3, a4"),
        (0xb001, 0x801ff06f, "c.j .-2048 => jal x0, .-2048"),
        (0xd101, 0xf00500e3, "c.beqz a0, .-256 => beq a0, x0, .-256"),
        (0xedfd, 0x0e059f63, "c.bnez a1, .+254 => bne a1, x0, .+254"),
        (0x0ffe, 0x01ff9f93, "c.slli t6, 31 => slli t6, t6, 31"),
        (0x0502, 0x00051513, "c.slli64 a0 (HINT) => slli a0, a0, 0"),
        (
            0x307e,
            0x1f813007,
            "c.fldsp ft0, 504(sp) => fld ft0, 504(sp)",
        ),
        (0x50fe, 0x0fc12083, "c.lwsp ra, 252(sp) => lw ra, 252(sp)"),
        (0x8082, 0x00008067, "c.jr ra => jalr x0, 0(ra)"),
        (0x852e, 0x00b00533, "c.mv a0, a1 => add a0, x0, a1"),
        (0x9002, 0x00100073, "c.ebreak => ebreak"),
        (0x9f82, 0x000f80e7, "c.jalr t6 => jalr ra, 0(t6)"),
        (0x952e, 0x00b50533, "c.add a0, a1 => add a0, a0, a1"),
        (
            0xbfee,
            0x1fb13c27,
            "c.fsdsp fs11, 504(sp) => fsd fs11, 504(sp)",
        ),
        (0xdf86, 0x0e112e23, "c.swsp ra, 252(sp) => sw ra, 252(sp)"),
    ];

    /// Reserved or illegal on both XLENs.
    const RESERVED_ON_BOTH: &[(u16, &str)] = &[
        (0x0000, "all-zero halfword (C.ADDI4SPN rd'=x8, nzuimm=0)"),
        (0x0004, "C.ADDI4SPN nzuimm=0, rd'=x9"),
        (0x001c, "C.ADDI4SPN nzuimm=0, rd'=x15"),
        (0x8000, "quadrant 0, funct3=100"),
        (0x9ffc, "quadrant 0, funct3=100, all operand bits set"),
        (0x6101, "C.ADDI16SP nzimm=0"),
        (0x6501, "C.LUI a0, nzimm=0"),
        (0x6001, "C.LUI x0, nzimm=0"),
        (0x4002, "C.LWSP rd=0"),
        (0x8002, "C.JR rs1=0"),
        (0x9c41, "quadrant 1 reserved slot (bit12=1, funct2=10)"),
        (0x9c61, "quadrant 1 reserved slot (bit12=1, funct2=11)"),
        (0x9ffd, "quadrant 1 reserved slot, all operand bits set"),
        (0x0003, "quadrant 3: not compressed"),
        (0xffff, "quadrant 3: not compressed"),
        (0x1013, "quadrant 3: low bits of an ADDI"),
    ];

    /// Reserved on RV64 only (legal, different instructions on RV32).
    const RESERVED_ON_RV64: &[(u16, &str)] = &[
        (0x2001, "C.ADDIW rd=0"),
        (0x207d, "C.ADDIW rd=0, imm=31"),
        (0x6002, "C.LDSP rd=0"),
        (0x707e, "C.LDSP rd=0, uimm=504"),
    ];

    /// Reserved on RV32 only (legal on RV64).
    const RESERVED_ON_RV32: &[(u16, &str)] = &[
        (0x1506, "C.SLLI shamt[5]=1"),
        (0x1002, "C.SLLI x0 with shamt[5]=1 (not a HINT on RV32)"),
        (0x9101, "C.SRLI shamt[5]=1"),
        (0x9501, "C.SRAI shamt[5]=1"),
        (0x9c01, "C.SUBW"),
        (0x9c21, "C.ADDW"),
    ];

    #[test]
    fn rv64_vectors_match_the_assembler() {
        for &(halfword, expected, description) in RV64_VECTORS {
            assert_eq!(
                expand(halfword, Xlen::Rv64),
                Some(expected),
                "{halfword:#06x}: {description}"
            );
        }
    }

    #[test]
    fn rv32_vectors_match_the_assembler() {
        for &(halfword, expected, description) in RV32_VECTORS {
            assert_eq!(
                expand(halfword, Xlen::Rv32),
                Some(expected),
                "{halfword:#06x}: {description}"
            );
        }
    }

    #[test]
    fn reserved_encodings_are_rejected() {
        for &(halfword, description) in RESERVED_ON_BOTH {
            for xlen in [Xlen::Rv32, Xlen::Rv64] {
                assert_eq!(
                    expand(halfword, xlen),
                    None,
                    "{halfword:#06x} on {xlen:?}: {description}"
                );
            }
        }
        for &(halfword, description) in RESERVED_ON_RV64 {
            assert_eq!(expand(halfword, Xlen::Rv64), None, "{description}");
            assert!(expand(halfword, Xlen::Rv32).is_some(), "{description}");
        }
        for &(halfword, description) in RESERVED_ON_RV32 {
            assert_eq!(expand(halfword, Xlen::Rv32), None, "{description}");
            assert!(expand(halfword, Xlen::Rv64).is_some(), "{description}");
        }
    }

    #[test]
    fn rv32_only_slots_decode_differently_on_rv32() {
        // C.JAL offset 0 (jal ra, 0), C.FLWSP f0, 0(sp): assembler output.
        assert_eq!(expand(0x2001, Xlen::Rv32), Some(0x0000_00ef));
        assert_eq!(expand(0x6002, Xlen::Rv32), Some(0x0001_2007));
    }

    #[test]
    fn every_halfword_expands_without_panicking_to_a_32_bit_form() {
        for halfword in 0..=u16::MAX {
            for xlen in [Xlen::Rv32, Xlen::Rv64] {
                if let Some(word) = expand(halfword, xlen) {
                    assert_eq!(word & 0b11, 0b11, "{halfword:#06x} -> {word:#010x}");
                    assert_ne!(halfword & QUADRANT_MASK, 0b11);
                }
            }
        }
    }
}
