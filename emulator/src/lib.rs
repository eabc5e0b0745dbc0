//! rvedge: a RISC-V RV32GC/RV64GC (with Zba, Zbb, Zbc, Zbs, Zicond) user-mode emulator built
//! to run untrusted per-request programs.
//!
//! A [`Program`] is a static ELF executable decoded once and shared; a [`Machine`] runs it
//! with its own registers and memory, stops with a [`Stop`] value saying why, and can be frozen
//! into a [`Snapshot`] from which new machines are made copy-on-write.
//!
//! The crate is `no_std` + `alloc` at its core and does no I/O: output, time and randomness
//! reach the guest only through an [`Environment`] the embedder provides.
#![cfg_attr(not(feature = "std"), no_std)]
// Guest values are 64-bit and hosts may be 32-bit (wasm32): every narrowing is checked or
// states why it cannot lose bits.
#![warn(clippy::cast_possible_truncation)]

extern crate alloc;

pub mod decode;
pub mod elf;
pub mod interp;
mod machine;
pub mod mem;
pub mod native;
pub mod profile;
mod program;
pub mod registers;
#[cfg(feature = "std")]
#[expect(
    clippy::cast_possible_truncation,
    reason = "not yet checked in runtime/helpers.rs and runtime/tenant.rs (issue 13)"
)]
pub mod runtime;
pub mod size;
pub mod syscall;
mod xlen;

#[cfg(feature = "std")]
pub use machine::CapturedOutput;
pub use machine::{
    Clock, Environment, Isolated, Machine, Options, SetupError, Snapshot, Stop, Trap, TrapKind,
    CALL_RETURN_ADDRESS, FIRST_HOST_CALL,
};
pub use program::{
    program_address_limit, FunctionLookupError, FunctionTable, LoadError, Program, MAX_CODE_BYTES,
    MAX_CODE_SPAN, PROGRAM_ADDRESS_LIMIT,
};
pub use xlen::Xlen;
