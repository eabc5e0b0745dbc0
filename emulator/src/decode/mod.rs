//! Instruction decoding: raw RV32GC/RV64GC words (with Zba, Zbb, Zbc, Zbs and Zicond) into the compact, pre-decoded [`Insn`] form that the
//! interpreter dispatches on and the disassembler prints.
//!
//! Decoding is pure: the same bytes always give the same `Insn`, and nothing here touches a
//! machine. Compressed instructions are first expanded to their 32-bit equivalents, so every
//! later stage sees one instruction set.

pub mod compressed;
mod disasm;

pub use crate::xlen::Xlen;

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
    /// `rd, rs1` (bit-manipulation ops of one operand).
    Unary,
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
    (
        $($variant:ident = $mnemonic:literal, $format:ident;)*
        @threaded_dispatch_only
        $($threaded:ident = $threaded_mnemonic:literal, $threaded_format:ident;)*
    ) => {
        /// Every operation the machine executes. One table drives the decoder's output, the
        /// executor's match and the disassembler's mnemonics.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Op {
            $($variant,)*
            $(#[cfg(threaded_dispatch)] $threaded,)*
        }

        impl Op {
            /// Every op, in discriminant order: `Op::ALL[op as usize] == op`.
            #[cfg(threaded_dispatch)]
            pub const ALL: &[Op] = &[$(Op::$variant,)* $(Op::$threaded,)*];
            /// Every op, in discriminant order: `Op::ALL[op as usize] == op`.
            #[cfg(not(threaded_dispatch))]
            pub const ALL: &[Op] = &[$(Op::$variant),*];

            pub fn mnemonic(self) -> &'static str {
                match self {
                    $(Op::$variant => $mnemonic,)*
                    $(#[cfg(threaded_dispatch)] Op::$threaded => $threaded_mnemonic,)*
                }
            }
            pub fn format(self) -> Format {
                match self {
                    $(Op::$variant => Format::$format,)*
                    $(#[cfg(threaded_dispatch)] Op::$threaded => Format::$threaded_format,)*
                }
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
    // Zba
    AddUw = "add.uw", R;
    Sh1add = "sh1add", R;
    Sh2add = "sh2add", R;
    Sh3add = "sh3add", R;
    Sh1addUw = "sh1add.uw", R;
    Sh2addUw = "sh2add.uw", R;
    Sh3addUw = "sh3add.uw", R;
    SlliUw = "slli.uw", I;
    // Zbb
    Andn = "andn", R;
    Orn = "orn", R;
    Xnor = "xnor", R;
    Clz = "clz", Unary;
    Clzw = "clzw", Unary;
    Ctz = "ctz", Unary;
    Ctzw = "ctzw", Unary;
    Cpop = "cpop", Unary;
    Cpopw = "cpopw", Unary;
    Max = "max", R;
    Maxu = "maxu", R;
    Min = "min", R;
    Minu = "minu", R;
    SextB = "sext.b", Unary;
    SextH = "sext.h", Unary;
    ZextH = "zext.h", Unary;
    Rol = "rol", R;
    Rolw = "rolw", R;
    Ror = "ror", R;
    Rorw = "rorw", R;
    Rori = "rori", I;
    Roriw = "roriw", I;
    OrcB = "orc.b", Unary;
    Rev8 = "rev8", Unary;
    // Zbc
    Clmul = "clmul", R;
    Clmulh = "clmulh", R;
    Clmulr = "clmulr", R;
    // Zbs
    Bclr = "bclr", R;
    Bclri = "bclri", I;
    Bext = "bext", R;
    Bexti = "bexti", I;
    Binv = "binv", R;
    Binvi = "binvi", I;
    Bset = "bset", R;
    Bseti = "bseti", I;
    // Zicond
    CzeroEqz = "czero.eqz", R;
    CzeroNez = "czero.nez", R;
    // RV32 forms, chosen at decode time for 32-bit programs (see `rv32_form`). Registers
    // always hold 64 bits; an RV32 machine keeps each one the sign extension of its 32-bit
    // value. These execute exactly as the RV64 W-form named in the comment, which computes
    // the 32-bit result and sign-extends it:
    AddRv32 = "add", R; // addw
    SubRv32 = "sub", R; // subw
    SllRv32 = "sll", R; // sllw
    SrlRv32 = "srl", R; // srlw
    SraRv32 = "sra", R; // sraw
    AddiRv32 = "addi", I; // addiw
    SlliRv32 = "slli", I; // slliw
    SrliRv32 = "srli", I; // srliw
    SraiRv32 = "srai", I; // sraiw
    MulRv32 = "mul", R; // mulw
    DivRv32 = "div", R; // divw
    DivuRv32 = "divu", R; // divuw
    RemRv32 = "rem", R; // remw
    RemuRv32 = "remu", R; // remuw
    ClzRv32 = "clz", Unary; // clzw
    CtzRv32 = "ctz", Unary; // ctzw
    CpopRv32 = "cpop", Unary; // cpopw
    RolRv32 = "rol", R; // rolw
    RorRv32 = "ror", R; // rorw
    RoriRv32 = "rori", I; // roriw
    // ...and these have no W-form to borrow, so they are ops of their own.
    AuipcRv32 = "auipc", U;
    MulhRv32 = "mulh", R;
    MulhsuRv32 = "mulhsu", R;
    MulhuRv32 = "mulhu", R;
    Sh1addRv32 = "sh1add", R;
    Sh2addRv32 = "sh2add", R;
    Sh3addRv32 = "sh3add", R;
    Rev8Rv32 = "rev8", Unary;
    ClmulRv32 = "clmul", R;
    ClmulhRv32 = "clmulh", R;
    ClmulrRv32 = "clmulr", R;
    BclrRv32 = "bclr", R;
    BclriRv32 = "bclri", I;
    BextRv32 = "bext", R;
    BinvRv32 = "binv", R;
    BinviRv32 = "binvi", I;
    BsetRv32 = "bset", R;
    BsetiRv32 = "bseti", I;
    // Not decoded: put by the loader on the first of `Insn::MIN_RUN` or more `sd`s (`ld`, `sw`,
    // `lw`) in a row through one base at offsets in order (`program::run_length`), the
    // register saves (restores) of a function's prologue (epilogue) on RV64 (RV32).
    // `execute` runs the whole run in one go (`Insn::run_length`, `interp::access_run`), or
    // the one entry as its plain op where its access misses the TLB.
    SdRun = "sd", Store;
    LdRun = "ld", Load;
    SwRun = "sw", Store;
    LwRun = "lw", Load;

    @threaded_dispatch_only
    // Not decoded: put by the loader on an RV64 `addi` or `add` whose next entry has the op
    // named second (`FUSED_PAIRS`). The threaded dispatch runs both entries of the pair with
    // one dispatch; elsewhere in such builds (a profiled run's `match` loop) the entry runs
    // as its first op, and the second entry stays as it was, for jumps to it. Builds without
    // the threaded dispatch (wasm32) have none: in the filter's hello (callgrind), the ten ops
    // cost the `match` loop 0.8% run one by one, and 7% run as pairs (README).
    AddiJal = "addi", I;
    AddiBltu = "addi", I;
    AddiAddi = "addi", I;
    AddiAdd = "addi", I;
    AddiJalr = "addi", I;
    AddiBeq = "addi", I;
    AddiBne = "addi", I;
    AddAdd = "add", R;
    AddAddi = "add", R;
    AddJal = "add", R;
}

/// The pairs of ops in a row the loader fuses, and the op of the pair's first entry: the
/// commonest pairs of the seed tenant's request (an ALU op first, which neither faults nor
/// ends its block).
#[cfg(threaded_dispatch)]
const FUSED_PAIRS: [(Op, Op, Op); 10] = [
    (Op::Addi, Op::Jal, Op::AddiJal),
    (Op::Addi, Op::Bltu, Op::AddiBltu),
    (Op::Addi, Op::Addi, Op::AddiAddi),
    (Op::Addi, Op::Add, Op::AddiAdd),
    (Op::Addi, Op::Jalr, Op::AddiJalr),
    (Op::Addi, Op::Beq, Op::AddiBeq),
    (Op::Addi, Op::Bne, Op::AddiBne),
    (Op::Add, Op::Add, Op::AddAdd),
    (Op::Add, Op::Addi, Op::AddAddi),
    (Op::Add, Op::Jal, Op::AddJal),
];

impl Op {
    /// The ops of the two entries a fused op stands for, in order (see `FUSED_PAIRS`).
    #[cfg(threaded_dispatch)]
    pub const fn fused_pair(self) -> Option<(Op, Op)> {
        let mut index = 0;
        while index < FUSED_PAIRS.len() {
            let (first, second, fused) = FUSED_PAIRS[index];
            if fused as u8 == self as u8 {
                return Some((first, second));
            }
            index += 1;
        }
        None
    }

    /// The fused op of `first` followed by `second`, if the loader fuses them.
    #[cfg(threaded_dispatch)]
    pub fn fused(first: Op, second: Op) -> Option<Op> {
        FUSED_PAIRS
            .iter()
            .find(|&&(pair_first, pair_second, _)| pair_first == first && pair_second == second)
            .map(|&(_, _, fused)| fused)
    }

    /// The op of a run of `self`s, for the loads and stores that runs are made of.
    pub const fn run_op(self) -> Option<Op> {
        match self {
            Op::Sd => Some(Op::SdRun),
            Op::Ld => Some(Op::LdRun),
            Op::Sw => Some(Op::SwRun),
            Op::Lw => Some(Op::LwRun),
            _ => None,
        }
    }

    /// Direct branches and `jal`: in a program's code, their `imm` is the target's entry index.
    pub fn is_direct_jump(self) -> bool {
        use Op::*;
        matches!(self, Jal | Beq | Bne | Blt | Bge | Bltu | Bgeu)
    }

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
    /// Instructions from this entry to the end of its basic block, itself included (0 for
    /// `FallThrough`; filled in by the program loader): the whole block is charged to the
    /// budget where it is entered, and this is in the entry the dispatch reads anyway.
    pub block_rest: u32,
    /// Address of this instruction, relative to the program's code start (filled in by the
    /// program loader).
    pub offset: u32,
}

/// `Program::entry_index` where no decoded instruction starts.
pub const NO_TARGET: u32 = u32::MAX;

impl Insn {
    /// Fewest entries a run (`Op::run_op`) covers. In the threaded dispatch a run costs
    /// about as many host instructions as four plain accesses (its checks, and the registers
    /// its loop needs saved) and saves a dispatch per entry after the first: shorter runs were
    /// no faster there, and half the runs of the seed's exchange were 2 to 4 long. The `match`
    /// loop's dispatch costs more, and runs of two already pay (wasm32: cpubench 2.5% and the
    /// filter's hello 1% slower with five).
    pub const MIN_RUN: usize = if cfg!(threaded_dispatch) { 5 } else { 2 };
    /// Most entries a run covers.
    pub const MAX_RUN: usize = 0x7f;

    /// The field of a run's first entry that holds its length: the register field its
    /// instruction does not use (a store's `rd`, a load's `rs2`). `op` is the entry's op: a
    /// constant where the caller knows it, so no load of the op picks the field.
    #[inline(always)]
    fn run_field(&self, op: Op) -> u8 {
        debug_assert_eq!(op, self.op);
        match op {
            Op::SdRun | Op::SwRun => self.rd,
            _ => self.rs2,
        }
    }

    /// The entries a run (`Op::run_op`) covers, itself included.
    #[inline(always)]
    pub fn run_length(&self) -> usize {
        self.run_length_as(self.op)
    }

    /// `run_length` of an entry whose op is `op`.
    #[inline(always)]
    pub fn run_length_as(&self, op: Op) -> usize {
        usize::from(self.run_field(op))
    }

    /// Marks this load or store as the first of a run of `length` (MIN_RUN..=MAX_RUN).
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the length is at most MAX_RUN, below 256"
    )]
    pub fn mark_run(&mut self, length: usize) {
        debug_assert!((Insn::MIN_RUN..=Insn::MAX_RUN).contains(&length));
        let Some(run_op) = self.op.run_op() else {
            debug_assert!(false, "{:?} makes no runs", self.op);
            return;
        };
        match run_op {
            Op::SdRun | Op::SwRun => self.rd = length as u8,
            _ => self.rs2 = length as u8,
        }
        self.op = run_op;
    }

    pub const fn new(op: Op, rd: u8, rs1: u8, rs2: u8, imm: i32) -> Insn {
        Insn {
            op,
            rd,
            rs1,
            rs2,
            imm,
            block_rest: 0,
            offset: 0,
        }
    }

    /// The entry that leaves the decoded code for `code_start + target`: after each segment's
    /// last instruction, and for a direct jump to where no decoded instruction starts.
    pub const fn fall_through(target: i32) -> Insn {
        Insn {
            offset: target as u32,
            ..Insn::new(Op::FallThrough, 0, 0, 0, target)
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
            Some(word) => (decode(word, xlen), 2),
            None => (Insn::illegal(u32::from(halfword)), 2),
        };
    }
    match bytes.get(..4) {
        Some(&[b0, b1, b2, b3]) => (decode(u32::from_le_bytes([b0, b1, b2, b3]), xlen), 4),
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

/// Decodes one 32-bit instruction word of a program of width `xlen`.
pub fn decode(word: u32, xlen: Xlen) -> Insn {
    decode_checked(word, xlen).unwrap_or(Insn::illegal(word))
}

fn insn(op: Op, rd: u8, rs1: u8, rs2: u8, imm: i32) -> Option<Insn> {
    Some(Insn::new(op, rd, rs1, rs2, imm))
}

fn decode_checked(word: u32, xlen: Xlen) -> Option<Insn> {
    let insn = decode_base(word, xlen)?;
    match xlen {
        Xlen::Rv64 => Some(insn),
        Xlen::Rv32 => Some(Insn {
            op: rv32_form(insn.op)?,
            ..insn
        }),
    }
}

/// What an op decoded from a 32-bit program executes as, or `None` if RV32 has no such
/// instruction. Registers are 64 bits wide for both widths; an RV32 machine keeps every one
/// the sign extension of its 32-bit value. Ops whose 64-bit result already is that (logic,
/// compares, loads, branches, the W-forms) stay; those whose result would not be become
/// their `…Rv32` form, decided here once so that executing needs no width test.
fn rv32_form(op: Op) -> Option<Op> {
    use Op::*;
    Some(match op {
        Add => AddRv32,
        Sub => SubRv32,
        Sll => SllRv32,
        Srl => SrlRv32,
        Sra => SraRv32,
        Addi => AddiRv32,
        Slli => SlliRv32,
        Srli => SrliRv32,
        Srai => SraiRv32,
        Mul => MulRv32,
        Div => DivRv32,
        Divu => DivuRv32,
        Rem => RemRv32,
        Remu => RemuRv32,
        Clz => ClzRv32,
        Ctz => CtzRv32,
        Cpop => CpopRv32,
        Rol => RolRv32,
        Ror => RorRv32,
        Rori => RoriRv32,
        Auipc => AuipcRv32,
        Mulh => MulhRv32,
        Mulhsu => MulhsuRv32,
        Mulhu => MulhuRv32,
        Sh1add => Sh1addRv32,
        Sh2add => Sh2addRv32,
        Sh3add => Sh3addRv32,
        Rev8 => Rev8Rv32,
        Clmul => ClmulRv32,
        Clmulh => ClmulhRv32,
        Clmulr => ClmulrRv32,
        Bclr => BclrRv32,
        Bclri => BclriRv32,
        Bext => BextRv32,
        Binv => BinvRv32,
        Binvi => BinviRv32,
        Bset => BsetRv32,
        Bseti => BsetiRv32,
        // RV64-only: doublewords, the W-forms, the .uw forms and 64-bit float conversions.
        Ld | Lwu | Sd | Addiw | Slliw | Srliw | Sraiw | Addw | Subw | Sllw | Srlw | Sraw | Mulw
        | Divw | Divuw | Remw | Remuw | LrD | ScD | AmoswapD | AmoaddD | AmoxorD | AmoandD
        | AmoorD | AmominD | AmomaxD | AmominuD | AmomaxuD | FcvtLS | FcvtLuS | FcvtSL
        | FcvtSLu | FcvtLD | FcvtLuD | FcvtDL | FcvtDLu | FmvXD | FmvDX | AddUw | Sh1addUw
        | Sh2addUw | Sh3addUw | SlliUw | Clzw | Ctzw | Cpopw | Rolw | Rorw | Roriw => return None,
        // The same on both widths.
        _ => op,
    })
}

/// The shift amount of an OP-IMM shift-like instruction: 6 bits on RV64; on RV32 5 bits, and
/// an encoding with bit 5 set is reserved.
fn shift_amount(word: u32, xlen: Xlen) -> Option<i32> {
    let shamt = ((word >> 20) & 63) as i32;
    match xlen {
        Xlen::Rv32 if shamt >= 32 => None,
        _ => Some(shamt),
    }
}

fn decode_base(word: u32, xlen: Xlen) -> Option<Insn> {
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
        0x13 if f3 == 1 || f3 == 5 => decode_op_imm_shift(word, xlen, rd, rs1),
        0x13 => {
            let op = match f3 {
                0 => Addi,
                2 => Slti,
                3 => Sltiu,
                4 => Xori,
                6 => Ori,
                _ => Andi,
            };
            insn(op, rd, rs1, 0, imm_i(word))
        }
        0x1b => {
            let shamt = ((word >> 20) & 31) as i32;
            let (op, imm) = match (f3, f7) {
                (0, _) => (Addiw, imm_i(word)),
                (1, 0) => (Slliw, shamt),
                (1, _) if word >> 26 == 0b00_0010 => (SlliUw, ((word >> 20) & 63) as i32),
                (1, 0x30) => (
                    match rs2 {
                        0 => Clzw,
                        1 => Ctzw,
                        2 => Cpopw,
                        _ => return None,
                    },
                    0,
                ),
                (5, 0) => (Srliw, shamt),
                (5, 0x20) => (Sraiw, shamt),
                (5, 0x30) => (Roriw, shamt),
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
                (0x10, 2) => Sh1add,
                (0x10, 4) => Sh2add,
                (0x10, 6) => Sh3add,
                (0x20, 7) => Andn,
                (0x20, 6) => Orn,
                (0x20, 4) => Xnor,
                (0x05, 1) => Clmul,
                (0x05, 2) => Clmulr,
                (0x05, 3) => Clmulh,
                (0x05, 4) => Min,
                (0x05, 5) => Minu,
                (0x05, 6) => Max,
                (0x05, 7) => Maxu,
                (0x30, 1) => Rol,
                (0x30, 5) => Ror,
                (0x24, 1) => Bclr,
                (0x24, 5) => Bext,
                (0x34, 1) => Binv,
                (0x14, 1) => Bset,
                (0x07, 5) => CzeroEqz,
                (0x07, 7) => CzeroNez,
                // zext.h is `pack rd, rs1, x0` on RV32 and `packw` on RV64 (below).
                (0x04, 4) if rs2 == 0 && xlen == Xlen::Rv32 => return insn(ZextH, rd, rs1, 0, 0),
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
                (0x04, 0) => AddUw,
                (0x10, 2) => Sh1addUw,
                (0x10, 4) => Sh2addUw,
                (0x10, 6) => Sh3addUw,
                (0x30, 1) => Rolw,
                (0x30, 5) => Rorw,
                (0x04, 4) if rs2 == 0 && xlen == Xlen::Rv64 => return insn(ZextH, rd, rs1, 0, 0),
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

/// OP-IMM with funct3 1 or 5: the shifts and the Zbb/Zbs ops that share their encoding, told
/// apart by imm[11:6] (and, for the one-operand ops, the rest of the immediate).
fn decode_op_imm_shift(word: u32, xlen: Xlen, rd: u8, rs1: u8) -> Option<Insn> {
    use Op::*;
    let funct6 = word >> 26;
    let low_bits = (word >> 20) & 63;
    let unary = |op| insn(op, rd, rs1, 0, 0);
    match (funct3(word), funct6) {
        (1, 0b01_1000) => match low_bits {
            0 => unary(Clz),
            1 => unary(Ctz),
            2 => unary(Cpop),
            4 => unary(SextB),
            5 => unary(SextH),
            _ => None,
        },
        (5, 0b00_1010) if low_bits == 0b00_0111 => unary(OrcB),
        (5, 0b01_1010) => match (xlen, low_bits) {
            (Xlen::Rv64, 0b11_1000) | (Xlen::Rv32, 0b01_1000) => unary(Rev8),
            _ => None,
        },
        (f3, funct6) => {
            let op = match (f3, funct6) {
                (1, 0b00_0000) => Slli,
                (1, 0b01_0010) => Bclri,
                (1, 0b00_1010) => Bseti,
                (1, 0b01_1010) => Binvi,
                (5, 0b00_0000) => Srli,
                (5, 0b01_0000) => Srai,
                (5, 0b01_0010) => Bexti,
                (5, 0b01_1000) => Rori,
                _ => return None,
            };
            insn(op, rd, rs1, 0, shift_amount(word, xlen)?)
        }
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
        assert_eq!(
            decode(0xfff5_0513, Xlen::Rv64),
            Insn::new(Op::Addi, 10, 10, 0, -1)
        );
        // sd ra, -8(sp)
        let store = decode(0xfe11_3c23, Xlen::Rv64);
        assert_eq!(
            (store.op, store.rs1, store.rs2, store.imm),
            (Op::Sd, 2, 1, -8)
        );
        // beq a0, a1, -4
        let branch = decode(0xfeb5_0ee3, Xlen::Rv64);
        assert_eq!((branch.op, branch.imm), (Op::Beq, -4));
        // jal ra, -1048576
        let jump = decode(0x8000_00ef, Xlen::Rv64);
        assert_eq!((jump.op, jump.rd), (Op::Jal, 1));
        assert_eq!(jump.imm, -1048576);
        // lui a0, 0xfffff
        assert_eq!(decode(0xffff_f537, Xlen::Rv64).imm, -4096);
    }

    #[test]
    fn writes_to_x0_go_to_the_discard_register() {
        // addi x0, x0, 0 (nop)
        assert_eq!(decode(0x0000_0013, Xlen::Rv64).rd, DISCARD_REGISTER);
        // fadd.s f0, f1, f2: floating-point f0 is a real register
        assert_eq!(decode(0x0020_f053, Xlen::Rv64).rd, 0);
    }

    #[test]
    fn reserved_encodings_are_illegal() {
        for word in [
            0x0000_0000,
            0xffff_ffff,
            0x0020_d053, /* fadd.s rm=5 */
            0x3020_0073, /* mret */
        ] {
            let decoded = decode(word, Xlen::Rv64);
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
            (decode(0x13, Xlen::Rv64), 4)
        );
    }
}
