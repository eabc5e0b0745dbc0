//! Integer register numbers by ABI name, for embedders and the runtime: `machine.register(A0)`.

/// Return address.
pub const RA: usize = 1;
/// Stack pointer.
pub const SP: usize = 2;
/// Global pointer.
pub const GP: usize = 3;
/// Thread pointer.
pub const TP: usize = 4;
/// First argument and return value; `A0 + n` is argument n (up to [`A7`]).
pub const A0: usize = 10;
pub const A1: usize = 11;
pub const A2: usize = 12;
pub const A3: usize = 13;
pub const A4: usize = 14;
pub const A5: usize = 15;
pub const A6: usize = 16;
/// Last argument register; the system call or host call number of an `ecall`.
pub const A7: usize = 17;

/// ABI names of the integer registers x0..x31.
pub const INT_REGISTER_NAMES: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];
