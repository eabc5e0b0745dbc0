//! rvedge: a RISC-V RV64GC user-mode emulator built to run untrusted per-request programs.
//!
//! A [`Program`] is a static ELF executable decoded once and shared; a [`Machine`] runs it
//! with its own registers and memory, stops with a [`Stop`] value saying why, and can be frozen
//! into a [`Snapshot`] from which new machines are made copy-on-write.
//!
//! The crate is `no_std` + `alloc` at its core and does no I/O: output, time and randomness
//! reach the guest only through an [`Environment`] the embedder provides.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod decode;
pub mod elf;
pub mod interp;
mod machine;
pub mod mem;
pub mod native;
pub mod profile;
mod program;
#[cfg(feature = "std")]
pub mod runtime;
pub mod size;
pub mod syscall;

#[cfg(feature = "std")]
pub use machine::CapturedOutput;
pub use machine::{
    Clock, Environment, Isolated, Machine, Options, SetupError, Snapshot, Stop, Trap, TrapKind,
    CALL_RETURN_ADDRESS, FIRST_HOST_CALL,
};
pub use program::{
    FunctionLookupError, FunctionTable, LoadError, Program, MAX_CODE_BYTES, PROGRAM_ADDRESS_LIMIT,
};
