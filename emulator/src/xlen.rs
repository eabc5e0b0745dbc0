//! The base integer register width of a program: RV32 or RV64.
//!
//! One machine serves both. Registers are 64-bit values; an RV32 machine keeps every integer
//! register the sign extension of its 32-bit value, and the decoder turns each RV32
//! instruction whose 64-bit result would differ into an op that computes the 32-bit one
//! (`decode::rv32_form`), so executing never tests the width. The width shows only where a
//! program meets the outside: the ELF class, the Linux start (word size of argv and auxv),
//! system-call arguments and structures, the CSRs with high halves, and the address layout
//! (an RV32 guest lives below 2^31, where its addresses and their sign extension agree).

/// Base integer register width, from the ELF class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Xlen {
    Rv32,
    Rv64,
}

impl Xlen {
    /// Bytes in a register, a pointer or a C `long` of the guest ABI.
    pub const fn word_bytes(self) -> u64 {
        match self {
            Xlen::Rv32 => 4,
            Xlen::Rv64 => 8,
        }
    }

    /// [`Xlen::word_bytes`] as a length.
    pub const fn word_size(self) -> usize {
        match self {
            Xlen::Rv32 => 4,
            Xlen::Rv64 => 8,
        }
    }

    /// A register value as the unsigned XLEN-bit number it stands for (the guest's
    /// `unsigned long`, pointer or `size_t`).
    pub const fn unsigned(self, register: u64) -> u64 {
        match self {
            Xlen::Rv32 => register & 0xffff_ffff,
            Xlen::Rv64 => register,
        }
    }

    /// The register value that holds the XLEN-bit number `value`: on RV32 the sign extension
    /// of its low 32 bits.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "an RV32 register holds the low 32 bits"
    )]
    pub const fn register(self, value: u64) -> u64 {
        match self {
            Xlen::Rv32 => value as u32 as i32 as i64 as u64,
            Xlen::Rv64 => value,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Xlen::Rv32 => "RV32",
            Xlen::Rv64 => "RV64",
        }
    }
}
