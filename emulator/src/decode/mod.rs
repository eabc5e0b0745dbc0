//! Instruction decoding: raw RV64GC words into the compact, pre-decoded [`Insn`] form that the
//! interpreter dispatches on and the disassembler prints.
//!
//! Decoding is pure: the same bytes always give the same `Insn`, and nothing here touches a
//! machine. Compressed instructions are first expanded to their 32-bit equivalents, so every
//! later stage sees one instruction set.

pub mod compressed;
mod disasm;

pub use compressed::Xlen;
pub use disasm::INT_REGISTER_NAMES;

/// Integer destination registers that are `x0` are redirected here at decode time, so the
/// executor can write results unconditionally and `x0` stays zero without a branch.
pub const DISCARD_REGISTER: u8 = 32;

/// How an instruction's operands are printed; declared next to each op in the table below so
/// the disassembler cannot drift from the decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// No operands (`ecall`, `fence.i`).
    None,
    /// `rd, rs1, rs2` integer registers.
    R,
    /// `rd, rs1, imm`.
    I,
    /// `rd, imm(rs1)` integer load.
    Load,
    /// `rs2, imm(rs1)` integer store.
    Store,
    /// `rs1, rs2, target`.
    Branch,
    /// `rd, imm` (upper immediate, printed shifted down by 12).
    U,
    /// `rd, target`.
    Jump,
    /// `rd, rs2, (rs1)` atomic memory operation.
    Amo,
    /// `rd, csr, rs1`.
    Csr,
    /// `rd, csr, uimm`.
    CsrImmediate,
    /// `fd, imm(rs1)` floating-point load.
    FpLoad,
    /// `fs2, imm(rs1)` floating-point store.
    FpStore,
    /// `fd, fs1, fs2`.
    FpR,
    /// `fd, fs1, fs2, fs3` fused multiply-add.
    FpR4,
    /// `fd, fs1`.
    FpUnary,
    /// `rd, fs1, fs2` comparison into an integer register.
    FpCompare,
    /// `rd, fs1` float to integer register.
    FpToInt,
    /// `fd, rs1` integer register to float.
    IntToFp,
    /// `fence` with its predecessor/successor sets in `imm`.
    Fence,
    /// An undecodable word, kept in `imm`.
    Illegal,
}

macro_rules! instruction_table {
    ($($variant:ident = $mnemonic:literal, $format:ident;)*) => {
        /// Every operation the machine executes. One table drives the decoder's output, the
        /// executor's match and the disassembler's mnemonics.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Op { $($variant),* }

        impl Op {
            pub fn mnemonic(self) -> &'static str {
                match self { $(Op::$variant => $mnemonic),* }
            }
            pub fn format(self) -> Format {
                match self { $(Op::$variant => Format::$format),* }
            }
        }
    };
}

instruction_table! {
    Illegal = "illegal", Illegal;
    // Not an instruction: ends each run of straight-line code in a program, and continues at
    // its own address (`Insn::offset`), wherever that leads.
    FallThrough = "(fall through)", None;
    // Not an instruction: put by the loader over the first instruction of a libc function the
    // host runs itself (`crate::native`); `imm` says which. The guest's bytes are unchanged.
    HostFunction = "(host function)", None;
    // RV64I
    Lui = "lui", U;
    Auipc = "auipc", U;
    Jal = "jal", Jump;
    Jalr = "jalr", Load;
    Beq = "beq", Branch;
    Bne = "bne", Branch;
    Blt = "blt", Branch;
    Bge = "bge", Branch;
    Bltu = "bltu", Branch;
    Bgeu = "bgeu", Branch;
    Lb = "lb", Load;
    Lh = "lh", Load;
    Lw = "lw", Load;
    Ld = "ld", Load;
    Lbu = "lbu", Load;
    Lhu = "lhu", Load;
    Lwu = "lwu", Load;
    Sb = "sb", Store;
    Sh = "sh", Store;
    Sw = "sw", Store;
    Sd = "sd", Store;
    Addi = "addi", I;
    Slti = "slti", I;
    Sltiu = "sltiu", I;
    Xori = "xori", I;
    Ori = "ori", I;
    Andi = "andi", I;
    Slli = "slli", I;
    Srli = "srli", I;
    Srai = "srai", I;
    Add = "add", R;
    Sub = "sub", R;
    Sll = "sll", R;
    Slt = "slt", R;
    Sltu = "sltu", R;
    Xor = "xor", R;
    Srl = "srl", R;
    Sra = "sra", R;
    Or = "or", R;
    And = "and", R;
    Addiw = "addiw", I;
    Slliw = "slliw", I;
    Srliw = "srliw", I;
    Sraiw = "sraiw", I;
    Addw = "addw", R;
    Subw = "subw", R;
    Sllw = "sllw", R;
    Srlw = "srlw", R;
    Sraw = "sraw", R;
    Fence = "fence", Fence;
    FenceI = "fence.i", None;
    Ecall = "ecall", None;
    Ebreak = "ebreak", None;
    // M
    Mul = "mul", R;
    Mulh = "mulh", R;
    Mulhsu = "mulhsu", R;
    Mulhu = "mulhu", R;
    Div = "div", R;
    Divu = "divu", R;
    Rem = "rem", R;
    Remu = "remu", R;
    Mulw = "mulw", R;
    Divw = "divw", R;
    Divuw = "divuw", R;
    Remw = "remw", R;
    Remuw = "remuw", R;
    // A
    LrW = "lr.w", Amo;
    ScW = "sc.w", Amo;
    AmoswapW = "amoswap.w", Amo;
    AmoaddW = "amoadd.w", Amo;
    AmoxorW = "amoxor.w", Amo;
    AmoandW = "amoand.w", Amo;
    AmoorW = "amoor.w", Amo;
    AmominW = "amomin.w", Amo;
    AmomaxW = "amomax.w", Amo;
    AmominuW = "amominu.w", Amo;
    AmomaxuW = "amomaxu.w", Amo;
    LrD = "lr.d", Amo;
    ScD = "sc.d", Amo;
    AmoswapD = "amoswap.d", Amo;
    AmoaddD = "amoadd.d", Amo;
    AmoxorD = "amoxor.d", Amo;
    AmoandD = "amoand.d", Amo;
    AmoorD = "amoor.d", Amo;
    AmominD = "amomin.d", Amo;
    AmomaxD = "amomax.d", Amo;
    AmominuD = "amominu.d", Amo;
    AmomaxuD = "amomaxu.d", Amo;
    // Zicsr
    Csrrw = "csrrw", Csr;
    Csrrs = "csrrs", Csr;
    Csrrc = "csrrc", Csr;
    Csrrwi = "csrrwi", CsrImmediate;
    Csrrsi = "csrrsi", CsrImmediate;
    Csrrci = "csrrci", CsrImmediate;
    // F
    Flw = "flw", FpLoad;
    Fsw = "fsw", FpStore;
    FmaddS = "fmadd.s", FpR4;
    FmsubS = "fmsub.s", FpR4;
    FnmsubS = "fnmsub.s", FpR4;
    FnmaddS = "fnmadd.s", FpR4;
    FaddS = "fadd.s", FpR;
    FsubS = "fsub.s", FpR;
    FmulS = "fmul.s", FpR;
    FdivS = "fdiv.s", FpR;
    FsqrtS = "fsqrt.s", FpUnary;
    FsgnjS = "fsgnj.s", FpR;
    FsgnjnS = "fsgnjn.s", FpR;
    FsgnjxS = "fsgnjx.s", FpR;
    FminS = "fmin.s", FpR;
    FmaxS = "fmax.s", FpR;
    FcvtWS = "fcvt.w.s", FpToInt;
    FcvtWuS = "fcvt.wu.s", FpToInt;
    FcvtLS = "fcvt.l.s", FpToInt;
    FcvtLuS = "fcvt.lu.s", FpToInt;
    FmvXW = "fmv.x.w", FpToInt;
    FeqS = "feq.s", FpCompare;
    FltS = "flt.s", FpCompare;
    FleS = "fle.s", FpCompare;
    FclassS = "fclass.s", FpToInt;
    FcvtSW = "fcvt.s.w", IntToFp;
    FcvtSWu = "fcvt.s.wu", IntToFp;
    FcvtSL = "fcvt.s.l", IntToFp;
    FcvtSLu = "fcvt.s.lu", IntToFp;
    FmvWX = "fmv.w.x", IntToFp;
    // D
    Fld = "fld", FpLoad;
    Fsd = "fsd", FpStore;
    FmaddD = "fmadd.d", FpR4;
    FmsubD = "fmsub.d", FpR4;
    FnmsubD = "fnmsub.d", FpR4;
    FnmaddD = "fnmadd.d", FpR4;
    FaddD = "fadd.d", FpR;
    FsubD = "fsub.d", FpR;
    FmulD = "fmul.d", FpR;
    FdivD = "fdiv.d", FpR;
    FsqrtD = "fsqrt.d", FpUnary;
    FsgnjD = "fsgnj.d", FpR;
    FsgnjnD = "fsgnjn.d", FpR;
    FsgnjxD = "fsgnjx.d", FpR;
    FminD = "fmin.d", FpR;
    FmaxD = "fmax.d", FpR;
    FcvtSD = "fcvt.s.d", FpUnary;
    FcvtDS = "fcvt.d.s", FpUnary;
    FcvtWD = "fcvt.w.d", FpToInt;
    FcvtWuD = "fcvt.wu.d", FpToInt;
    FcvtLD = "fcvt.l.d", FpToInt;
    FcvtLuD = "fcvt.lu.d", FpToInt;
    FmvXD = "fmv.x.d", FpToInt;
    FeqD = "feq.d", FpCompare;
    FltD = "flt.d", FpCompare;
    FleD = "fle.d", FpCompare;
    FclassD = "fclass.d", FpToInt;
    FcvtDW = "fcvt.d.w", IntToFp;
    FcvtDWu = "fcvt.d.wu", IntToFp;
    FcvtDL = "fcvt.d.l", IntToFp;
    FcvtDLu = "fcvt.d.lu", IntToFp;
    FmvDX = "fmv.d.x", IntToFp;
}

impl Op {
    /// Whether this op ends a basic block: after it the interpreter returns to its block
    /// entry, where the instruction budget is checked. Control flow obviously; also every op
    /// that leaves the interpreter or reads the instruction counter, so the counter is exact
    /// there.
    pub fn ends_block(self) -> bool {
        use Op::*;
        matches!(
            self,
            Illegal
                | FallThrough
                | HostFunction
                | Jal
                | Jalr
                | Beq
                | Bne
                | Blt
                | Bge
                | Bltu
                | Bgeu
                | Ecall
                | Ebreak
                | FenceI
                | Csrrw
                | Csrrs
                | Csrrc
                | Csrrwi
                | Csrrsi
                | Csrrci
        )
    }
}

/// One pre-decoded instruction: 16 bytes, decoded once per program and shared by every
/// machine running it. A program keeps them in address order, so the next instruction is
/// always the next entry.
///
/// Register fields hold register numbers; an integer `rd` of `x0` is [`DISCARD_REGISTER`].
/// `imm` holds the sign-extended immediate; for floating-point ops it holds the rounding mode
/// (bits 0..3) and, for fused multiply-add, `rs3` (bits 8..13); for CSR ops the CSR number;
/// for `Illegal` the raw instruction bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub op: Op,
    pub rd: u8,
    pub rs1: u8,
    pub rs2: u8,
    pub imm: i32,
    /// For direct branches and `jal`: index of the target instruction in the program's code,
    /// or [`NO_TARGET`] (filled in by the program loader).
    pub target: u32,
    /// Address of this instruction, relative to the program's code start (filled in by the
    /// program loader).
    pub offset: u32,
}

/// `Insn::target` of a branch whose target is not the start of a decoded instruction.
pub const NO_TARGET: u32 = u32::MAX;

impl Insn {
    pub const fn new(op: Op, rd: u8, rs1: u8, rs2: u8, imm: i32) -> Insn {
        Insn {
            op,
            rd,
            rs1,
            rs2,
            imm,
            target: NO_TARGET,
            offset: 0,
        }
    }

    pub const fn illegal(bits: u32) -> Insn {
        Insn::new(Op::Illegal, 0, 0, 0, bits as i32)
    }

    /// Rounding-mode field of a floating-point op.
    #[inline(always)]
    pub fn rounding_mode(&self) -> u8 {
        (self.imm & 0x7) as u8
    }

    /// Third source register of a fused multiply-add.
    #[inline(always)]
    pub fn rs3(&self) -> u8 {
        ((self.imm >> 8) & 0x1f) as u8
    }
}

/// Decodes the instruction at the start of `bytes` (at least 2 bytes; 4 for a 32-bit
/// instruction) and returns it with its length in bytes. A truncated or undecodable
/// instruction decodes to `Op::Illegal`.
pub fn decode_bytes(bytes: &[u8], xlen: Xlen) -> (Insn, u8) {
    let Some(&[low0, low1]) = bytes.get(..2) else {
        return (Insn::illegal(0), 2);
    };
    let halfword = u16::from_le_bytes([low0, low1]);
    if halfword & 0b11 != 0b11 {
        return match compressed::expand(halfword, xlen) {
            Some(word) => (decode(word), 2),
            None => (Insn::illegal(u32::from(halfword)), 2),
        };
    }
    match bytes.get(..4) {
        Some(&[b0, b1, b2, b3]) => (decode(u32::from_le_bytes([b0, b1, b2, b3])), 4),
        // A 32-bit instruction cut off by the end of its segment.
        _ => (Insn::illegal(u32::from(halfword)), 2),
    }
}

/// Integer destination: `x0` becomes the discard register.
fn int_rd(word: u32) -> u8 {
    match ((word >> 7) & 31) as u8 {
        0 => DISCARD_REGISTER,
        rd => rd,
    }
}

fn field_rd(word: u32) -> u8 {
    ((word >> 7) & 31) as u8
}
fn field_rs1(word: u32) -> u8 {
    ((word >> 15) & 31) as u8
}
fn field_rs2(word: u32) -> u8 {
    ((word >> 20) & 31) as u8
}
fn funct3(word: u32) -> u32 {
    (word >> 12) & 7
}
fn funct7(word: u32) -> u32 {
    word >> 25
}
fn imm_i(word: u32) -> i32 {
    (word as i32) >> 20
}
fn imm_s(word: u32) -> i32 {
    ((word as i32) >> 25 << 5) | ((word >> 7) & 31) as i32
}
fn imm_b(word: u32) -> i32 {
    ((word as i32) >> 31 << 12)
        | (((word >> 7) & 1) << 11) as i32
        | (((word >> 25) & 0x3f) << 5) as i32
        | (((word >> 8) & 0xf) << 1) as i32
}
fn imm_u(word: u32) -> i32 {
    (word & 0xffff_f000) as i32
}
fn imm_j(word: u32) -> i32 {
    ((word as i32) >> 31 << 20)
        | (word & 0x000f_f000) as i32
        | (((word >> 20) & 1) << 11) as i32
        | (((word >> 21) & 0x3ff) << 1) as i32
}

/// Rounding-mode field; the reserved static modes 5 and 6 make the instruction illegal.
fn static_rounding_mode(word: u32) -> Option<i32> {
    match funct3(word) {
        5 | 6 => None,
        rm => Some(rm as i32),
    }
}

/// Decodes one 32-bit instruction word.
pub fn decode(word: u32) -> Insn {
    decode_checked(word).unwrap_or(Insn::illegal(word))
}

fn insn(op: Op, rd: u8, rs1: u8, rs2: u8, imm: i32) -> Option<Insn> {
    Some(Insn::new(op, rd, rs1, rs2, imm))
}

fn decode_checked(word: u32) -> Option<Insn> {
    use Op::*;
    let rd = int_rd(word);
    let rs1 = field_rs1(word);
    let rs2 = field_rs2(word);
    let f3 = funct3(word);
    let f7 = funct7(word);
    match word & 0x7f {
        0x37 => insn(Lui, rd, 0, 0, imm_u(word)),
        0x17 => insn(Auipc, rd, 0, 0, imm_u(word)),
        0x6f => insn(Jal, rd, 0, 0, imm_j(word)),
        0x67 if f3 == 0 => insn(Jalr, rd, rs1, 0, imm_i(word)),
        0x63 => {
            let op = match f3 {
                0 => Beq,
                1 => Bne,
                4 => Blt,
                5 => Bge,
                6 => Bltu,
                7 => Bgeu,
                _ => return None,
            };
            insn(op, 0, rs1, rs2, imm_b(word))
        }
        0x03 => {
            let op = match f3 {
                0 => Lb,
                1 => Lh,
                2 => Lw,
                3 => Ld,
                4 => Lbu,
                5 => Lhu,
                6 => Lwu,
                _ => return None,
            };
            insn(op, rd, rs1, 0, imm_i(word))
        }
        0x23 => {
            let op = match f3 {
                0 => Sb,
                1 => Sh,
                2 => Sw,
                3 => Sd,
                _ => return None,
            };
            insn(op, 0, rs1, rs2, imm_s(word))
        }
        0x13 => {
            let shamt = ((word >> 20) & 63) as i32;
            let funct6 = word >> 26;
            let (op, imm) = match (f3, funct6) {
                (0, _) => (Addi, imm_i(word)),
                (2, _) => (Slti, imm_i(word)),
                (3, _) => (Sltiu, imm_i(word)),
                (4, _) => (Xori, imm_i(word)),
                (6, _) => (Ori, imm_i(word)),
                (7, _) => (Andi, imm_i(word)),
                (1, 0) => (Slli, shamt),
                (5, 0) => (Srli, shamt),
                (5, 0x10) => (Srai, shamt),
                _ => return None,
            };
            insn(op, rd, rs1, 0, imm)
        }
        0x1b => {
            let shamt = ((word >> 20) & 31) as i32;
            let (op, imm) = match (f3, f7) {
                (0, _) => (Addiw, imm_i(word)),
                (1, 0) => (Slliw, shamt),
                (5, 0) => (Srliw, shamt),
                (5, 0x20) => (Sraiw, shamt),
                _ => return None,
            };
            insn(op, rd, rs1, 0, imm)
        }
        0x33 => {
            let op = match (f7, f3) {
                (0, 0) => Add,
                (0x20, 0) => Sub,
                (0, 1) => Sll,
                (0, 2) => Slt,
                (0, 3) => Sltu,
                (0, 4) => Xor,
                (0, 5) => Srl,
                (0x20, 5) => Sra,
                (0, 6) => Or,
                (0, 7) => And,
                (1, 0) => Mul,
                (1, 1) => Mulh,
                (1, 2) => Mulhsu,
                (1, 3) => Mulhu,
                (1, 4) => Div,
                (1, 5) => Divu,
                (1, 6) => Rem,
                (1, 7) => Remu,
                _ => return None,
            };
            insn(op, rd, rs1, rs2, 0)
        }
        0x3b => {
            let op = match (f7, f3) {
                (0, 0) => Addw,
                (0x20, 0) => Subw,
                (0, 1) => Sllw,
                (0, 5) => Srlw,
                (0x20, 5) => Sraw,
                (1, 0) => Mulw,
                (1, 4) => Divw,
                (1, 5) => Divuw,
                (1, 6) => Remw,
                (1, 7) => Remuw,
                _ => return None,
            };
            insn(op, rd, rs1, rs2, 0)
        }
        0x0f => match f3 {
            0 => insn(Fence, 0, 0, 0, imm_i(word)),
            1 => insn(FenceI, 0, 0, 0, 0),
            _ => None,
        },
        0x73 => {
            let csr = (word >> 20) as i32;
            match f3 {
                0 if word == 0x0000_0073 => insn(Ecall, 0, 0, 0, 0),
                0 if word == 0x0010_0073 => insn(Ebreak, 0, 0, 0, 0),
                1 => insn(Csrrw, rd, rs1, 0, csr),
                2 => insn(Csrrs, rd, rs1, 0, csr),
                3 => insn(Csrrc, rd, rs1, 0, csr),
                5 => insn(Csrrwi, rd, rs1, 0, csr),
                6 => insn(Csrrsi, rd, rs1, 0, csr),
                7 => insn(Csrrci, rd, rs1, 0, csr),
                _ => None,
            }
        }
        0x2f => decode_atomic(word, rd, rs1, rs2),
        0x07 => match f3 {
            2 => insn(Flw, field_rd(word), rs1, 0, imm_i(word)),
            3 => insn(Fld, field_rd(word), rs1, 0, imm_i(word)),
            _ => None,
        },
        0x27 => match f3 {
            2 => insn(Fsw, 0, rs1, rs2, imm_s(word)),
            3 => insn(Fsd, 0, rs1, rs2, imm_s(word)),
            _ => None,
        },
        0x43 | 0x47 | 0x4b | 0x4f => {
            let double = match (word >> 25) & 3 {
                0 => false,
                1 => true,
                _ => return None,
            };
            let op = match (word & 0x7f, double) {
                (0x43, false) => FmaddS,
                (0x47, false) => FmsubS,
                (0x4b, false) => FnmsubS,
                (0x4f, false) => FnmaddS,
                (0x43, true) => FmaddD,
                (0x47, true) => FmsubD,
                (0x4b, true) => FnmsubD,
                _ => FnmaddD,
            };
            let rs3 = (word >> 27) as i32;
            insn(
                op,
                field_rd(word),
                rs1,
                rs2,
                static_rounding_mode(word)? | (rs3 << 8),
            )
        }
        0x53 => decode_op_fp(word, rs1, rs2),
        _ => None,
    }
}

fn decode_atomic(word: u32, rd: u8, rs1: u8, rs2: u8) -> Option<Insn> {
    use Op::*;
    let funct5 = word >> 27;
    let op = match (funct3(word), funct5) {
        (2, 0x02) if rs2 == 0 => LrW,
        (2, 0x03) => ScW,
        (2, 0x01) => AmoswapW,
        (2, 0x00) => AmoaddW,
        (2, 0x04) => AmoxorW,
        (2, 0x0c) => AmoandW,
        (2, 0x08) => AmoorW,
        (2, 0x10) => AmominW,
        (2, 0x14) => AmomaxW,
        (2, 0x18) => AmominuW,
        (2, 0x1c) => AmomaxuW,
        (3, 0x02) if rs2 == 0 => LrD,
        (3, 0x03) => ScD,
        (3, 0x01) => AmoswapD,
        (3, 0x00) => AmoaddD,
        (3, 0x04) => AmoxorD,
        (3, 0x0c) => AmoandD,
        (3, 0x08) => AmoorD,
        (3, 0x10) => AmominD,
        (3, 0x14) => AmomaxD,
        (3, 0x18) => AmominuD,
        (3, 0x1c) => AmomaxuD,
        _ => return None,
    };
    insn(op, rd, rs1, rs2, 0)
}

fn decode_op_fp(word: u32, rs1: u8, rs2: u8) -> Option<Insn> {
    use Op::*;
    let f3 = funct3(word);
    let frd = field_rd(word);
    let xrd = int_rd(word);
    // Ops that round carry the rounding mode in imm; the rest ignore it.
    let rm = static_rounding_mode(word);
    match funct7(word) {
        0x00 => insn(FaddS, frd, rs1, rs2, rm?),
        0x01 => insn(FaddD, frd, rs1, rs2, rm?),
        0x04 => insn(FsubS, frd, rs1, rs2, rm?),
        0x05 => insn(FsubD, frd, rs1, rs2, rm?),
        0x08 => insn(FmulS, frd, rs1, rs2, rm?),
        0x09 => insn(FmulD, frd, rs1, rs2, rm?),
        0x0c => insn(FdivS, frd, rs1, rs2, rm?),
        0x0d => insn(FdivD, frd, rs1, rs2, rm?),
        0x2c if rs2 == 0 => insn(FsqrtS, frd, rs1, 0, rm?),
        0x2d if rs2 == 0 => insn(FsqrtD, frd, rs1, 0, rm?),
        0x10 | 0x11 => {
            let double = funct7(word) == 0x11;
            let op = match (f3, double) {
                (0, false) => FsgnjS,
                (1, false) => FsgnjnS,
                (2, false) => FsgnjxS,
                (0, true) => FsgnjD,
                (1, true) => FsgnjnD,
                (2, true) => FsgnjxD,
                _ => return None,
            };
            insn(op, frd, rs1, rs2, 0)
        }
        0x14 | 0x15 => {
            let double = funct7(word) == 0x15;
            let op = match (f3, double) {
                (0, false) => FminS,
                (1, false) => FmaxS,
                (0, true) => FminD,
                (1, true) => FmaxD,
                _ => return None,
            };
            insn(op, frd, rs1, rs2, 0)
        }
        0x20 if rs2 == 1 => insn(FcvtSD, frd, rs1, 0, rm?),
        0x21 if rs2 == 0 => insn(FcvtDS, frd, rs1, 0, rm?),
        0x50 | 0x51 => {
            let double = funct7(word) == 0x51;
            let op = match (f3, double) {
                (2, false) => FeqS,
                (1, false) => FltS,
                (0, false) => FleS,
                (2, true) => FeqD,
                (1, true) => FltD,
                (0, true) => FleD,
                _ => return None,
            };
            insn(op, xrd, rs1, rs2, 0)
        }
        0x60 | 0x61 => {
            let double = funct7(word) == 0x61;
            let op = match (rs2, double) {
                (0, false) => FcvtWS,
                (1, false) => FcvtWuS,
                (2, false) => FcvtLS,
                (3, false) => FcvtLuS,
                (0, true) => FcvtWD,
                (1, true) => FcvtWuD,
                (2, true) => FcvtLD,
                (3, true) => FcvtLuD,
                _ => return None,
            };
            insn(op, xrd, rs1, 0, rm?)
        }
        0x68 | 0x69 => {
            let double = funct7(word) == 0x69;
            let op = match (rs2, double) {
                (0, false) => FcvtSW,
                (1, false) => FcvtSWu,
                (2, false) => FcvtSL,
                (3, false) => FcvtSLu,
                (0, true) => FcvtDW,
                (1, true) => FcvtDWu,
                (2, true) => FcvtDL,
                (3, true) => FcvtDLu,
                _ => return None,
            };
            insn(op, frd, rs1, 0, rm?)
        }
        0x70 if rs2 == 0 && f3 == 0 => insn(FmvXW, xrd, rs1, 0, 0),
        0x70 if rs2 == 0 && f3 == 1 => insn(FclassS, xrd, rs1, 0, 0),
        0x71 if rs2 == 0 && f3 == 0 => insn(FmvXD, xrd, rs1, 0, 0),
        0x71 if rs2 == 0 && f3 == 1 => insn(FclassD, xrd, rs1, 0, 0),
        0x78 if rs2 == 0 && f3 == 0 => insn(FmvWX, frd, rs1, 0, 0),
        0x79 if rs2 == 0 && f3 == 0 => insn(FmvDX, frd, rs1, 0, 0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediates_decode_with_sign() {
        // addi a0, a0, -1
        assert_eq!(decode(0xfff5_0513), Insn::new(Op::Addi, 10, 10, 0, -1));
        // sd ra, -8(sp)
        let store = decode(0xfe11_3c23);
        assert_eq!(
            (store.op, store.rs1, store.rs2, store.imm),
            (Op::Sd, 2, 1, -8)
        );
        // beq a0, a1, -4
        let branch = decode(0xfeb5_0ee3);
        assert_eq!((branch.op, branch.imm), (Op::Beq, -4));
        // jal ra, -1048576
        let jump = decode(0x8000_00ef);
        assert_eq!((jump.op, jump.rd), (Op::Jal, 1));
        assert_eq!(jump.imm, -1048576);
        // lui a0, 0xfffff
        assert_eq!(decode(0xffff_f537).imm, -4096);
    }

    #[test]
    fn writes_to_x0_go_to_the_discard_register() {
        // addi x0, x0, 0 (nop)
        assert_eq!(decode(0x0000_0013).rd, DISCARD_REGISTER);
        // fadd.s f0, f1, f2: floating-point f0 is a real register
        assert_eq!(decode(0x0020_f053).rd, 0);
    }

    #[test]
    fn reserved_encodings_are_illegal() {
        for word in [
            0x0000_0000,
            0xffff_ffff,
            0x0020_d053, /* fadd.s rm=5 */
            0x3020_0073, /* mret */
        ] {
            let decoded = decode(word);
            assert_eq!(decoded.op, Op::Illegal, "{word:#010x}");
            assert_eq!(decoded.imm as u32, word);
        }
    }

    #[test]
    fn truncated_bytes_are_illegal_not_a_panic() {
        assert_eq!(decode_bytes(&[], Xlen::Rv64).0.op, Op::Illegal);
        assert_eq!(decode_bytes(&[0x13], Xlen::Rv64).0.op, Op::Illegal);
        assert_eq!(decode_bytes(&[0x13, 0, 0], Xlen::Rv64).0.op, Op::Illegal);
        assert_eq!(
            decode_bytes(&[0x13, 0, 0, 0], Xlen::Rv64),
            (decode(0x13), 4)
        );
    }
}
