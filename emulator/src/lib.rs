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

// The embedding API is the crate root, `registers`, `profile`, `size` and `runtime`. The hidden
// modules are public for the workspace's tests, fuzz targets and debuggers only: not an API.
#[doc(hidden)]
pub mod decode;
#[doc(hidden)]
pub mod elf;
mod handle;
#[doc(hidden)]
pub mod interp;
mod machine;
#[doc(hidden)]
pub mod mem;
#[doc(hidden)]
pub mod native;
pub mod profile;
mod program;
pub mod registers;
#[cfg(feature = "std")]
pub mod runtime;
pub mod size;
mod spare;
#[doc(hidden)]
pub mod syscall;
mod xlen;

#[cfg(feature = "std")]
pub use machine::CapturedOutput;
pub use machine::{
    BoxedMachine, Clock, Environment, Isolated, Machine, Options, SetupError, Snapshot, Stop, Trap,
    TrapKind, CALL_RETURN_ADDRESS, FIRST_HOST_CALL,
};
pub use mem::PAGE_SIZE;
pub use native::HostFunctionOptions;
pub use program::{
    program_address_limit, FunctionLookupError, FunctionTable, Program, ProgramError,
    MAX_CODE_BYTES, MAX_CODE_SPAN, PROGRAM_ADDRESS_LIMIT,
};
pub use xlen::Xlen;
