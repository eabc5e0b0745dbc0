//! Linux system call numbers of the asm-generic table that riscv32 and riscv64 share (RV32
//! lacks the calls with 32-bit times and has `*_time64` ones instead), errno values and ABI
//! constants.

pub const SYS_IOCTL: u64 = 29;
pub const SYS_OPENAT: u64 = 56;
pub const SYS_CLOSE: u64 = 57;
/// `lseek` on RV64, `llseek` on RV32.
pub const SYS_LSEEK: u64 = 62;
pub const SYS_READ: u64 = 63;
pub const SYS_WRITE: u64 = 64;
pub const SYS_WRITEV: u64 = 66;
pub const SYS_PPOLL: u64 = 73;
pub const SYS_READLINKAT: u64 = 78;
pub const SYS_NEWFSTATAT: u64 = 79;
pub const SYS_FSTAT: u64 = 80;
pub const SYS_EXIT: u64 = 93;
pub const SYS_EXIT_GROUP: u64 = 94;
pub const SYS_SET_TID_ADDRESS: u64 = 96;
pub const SYS_FUTEX: u64 = 98;
pub const SYS_SET_ROBUST_LIST: u64 = 99;
pub const SYS_NANOSLEEP: u64 = 101;
pub const SYS_CLOCK_GETTIME: u64 = 113;
pub const SYS_CLOCK_NANOSLEEP: u64 = 115;
pub const SYS_SCHED_GETAFFINITY: u64 = 123;
pub const SYS_SCHED_YIELD: u64 = 124;
pub const SYS_KILL: u64 = 129;
pub const SYS_TKILL: u64 = 130;
pub const SYS_TGKILL: u64 = 131;
pub const SYS_SIGALTSTACK: u64 = 132;
pub const SYS_RT_SIGACTION: u64 = 134;
pub const SYS_RT_SIGPROCMASK: u64 = 135;
pub const SYS_UNAME: u64 = 160;
pub const SYS_GETTIMEOFDAY: u64 = 169;
pub const SYS_GETPID: u64 = 172;
pub const SYS_GETPPID: u64 = 173;
pub const SYS_GETUID: u64 = 174;
pub const SYS_GETEUID: u64 = 175;
pub const SYS_GETGID: u64 = 176;
pub const SYS_GETEGID: u64 = 177;
pub const SYS_GETTID: u64 = 178;
pub const SYS_SYSINFO: u64 = 179;
pub const SYS_BRK: u64 = 214;
pub const SYS_MUNMAP: u64 = 215;
pub const SYS_MMAP: u64 = 222;
pub const SYS_MPROTECT: u64 = 226;
pub const SYS_MADVISE: u64 = 233;
pub const SYS_PRLIMIT64: u64 = 261;
pub const SYS_GETRANDOM: u64 = 278;
// RV32 only: the 64-bit-time variants.
pub const SYS_CLOCK_GETTIME64: u64 = 403;
pub const SYS_CLOCK_NANOSLEEP_TIME64: u64 = 407;
pub const SYS_PPOLL_TIME64: u64 = 414;
pub const SYS_FUTEX_TIME64: u64 = 422;

pub const ENOENT: i64 = 2;
pub const EBADF: i64 = 9;
pub const EAGAIN: i64 = 11;
pub const ENOMEM: i64 = 12;
pub const EACCES: i64 = 13;
pub const EFAULT: i64 = 14;
pub const EEXIST: i64 = 17;
pub const EINVAL: i64 = 22;
pub const ENOTTY: i64 = 25;
pub const ESPIPE: i64 = 29;
pub const EPIPE: i64 = 32;
pub const ENOSYS: i64 = 38;

pub const IOV_MAX: u64 = 1024;

pub const PROT_READ: u64 = 1;
pub const PROT_WRITE: u64 = 2;
pub const PROT_EXEC: u64 = 4;
pub const MAP_FIXED: u64 = 0x10;
pub const MAP_ANONYMOUS: u64 = 0x20;
pub const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;

pub const FUTEX_COMMAND_MASK: u64 = 0x7f;
pub const FUTEX_WAIT: u64 = 0;
pub const FUTEX_WAKE: u64 = 1;
pub const FUTEX_WAIT_BITSET: u64 = 9;
pub const FUTEX_WAKE_BITSET: u64 = 10;

pub const CLOCK_REALTIME: u64 = 0;
pub const CLOCK_REALTIME_COARSE: u64 = 5;

pub const RLIMIT_DATA: u64 = 2;
pub const RLIMIT_STACK: u64 = 3;
pub const RLIMIT_AS: u64 = 9;
pub const RLIM_INFINITY: u64 = u64::MAX;

pub const AT_EMPTY_PATH: u64 = 0x1000;

/// `struct stat` of the asm-generic ABI that riscv64 uses.
pub const STAT_SIZE: usize = 128;
pub const STAT_MODE_OFFSET: usize = 16;
pub const STAT_NLINK_OFFSET: usize = 20;
pub const STAT_BLKSIZE_OFFSET: usize = 56;
pub const S_IFCHR: u32 = 0o020000;

/// Kernel `sigset_t`: 64 signals on either width.
pub const SIGSET_SIZE: usize = 8;
/// The largest structure an optional output is zero-filled for (`struct sigaction` on RV64:
/// handler, flags, mask; no restorer).
pub const MAX_ZERO_FILLED: usize = 24;
pub const SS_DISABLE: u64 = 2;

pub const UTSNAME_FIELDS: usize = 6;
pub const UTSNAME_FIELD_SIZE: usize = 65;

// Auxiliary vector keys.
pub const AT_NULL: u64 = 0;
pub const AT_PHDR: u64 = 3;
pub const AT_PHENT: u64 = 4;
pub const AT_PHNUM: u64 = 5;
pub const AT_PAGESZ: u64 = 6;
pub const AT_BASE: u64 = 7;
pub const AT_FLAGS: u64 = 8;
pub const AT_ENTRY: u64 = 9;
pub const AT_UID: u64 = 11;
pub const AT_EUID: u64 = 12;
pub const AT_GID: u64 = 13;
pub const AT_EGID: u64 = 14;
pub const AT_HWCAP: u64 = 16;
pub const AT_CLKTCK: u64 = 17;
pub const AT_SECURE: u64 = 23;
pub const AT_RANDOM: u64 = 25;

/// HWCAP bits are the ISA letters' positions in the alphabet: I, M, A, F, D, C (the same
/// for RV32GC).
pub const HWCAP_GC: u64 = isa_letter_bit(b'I')
    | isa_letter_bit(b'M')
    | isa_letter_bit(b'A')
    | isa_letter_bit(b'F')
    | isa_letter_bit(b'D')
    | isa_letter_bit(b'C');

const fn isa_letter_bit(letter: u8) -> u64 {
    1 << (letter - b'A')
}
pub const CLOCK_TICKS_PER_SECOND: u64 = 100;
