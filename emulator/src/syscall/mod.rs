//! Linux user-mode emulation: process start (stack, auxv, brk) and the system calls that static
//! glibc, libstdc++ and Rust std programs make. The guest sees no host files, clock or
//! randomness except through the machine's [`Environment`](crate::Environment).

pub(crate) mod numbers;
mod startup;

use alloc::vec::Vec;

use crate::machine::{Clock, Machine, Stop, Trap, TrapKind};
use crate::mem::{page_round_down, page_round_up, MapError, Perms, PAGE_SIZE};
use crate::registers::A0;
use crate::xlen::Xlen;
use numbers::*;
pub(crate) use startup::start_process;

/// Where things go in the guest address space: program segments below `program_limit`,
/// anonymous mappings top-down above it, under the stack.
pub mod layout {
    use crate::xlen::Xlen;

    /// The address layout of a process of one width.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct AddressLayout {
        /// Highest address (exclusive) a program segment may reach.
        pub program_limit: u64,
        /// Lowest address of the mmap area (the heap from `brk` stays below it).
        pub mmap_bottom: u64,
        /// The main stack ends here.
        pub stack_top: u64,
        /// Unmapped gap between the mmap area and the stack, so a stack overflow faults.
        pub stack_guard: u64,
        /// Nothing is ever mapped at or above this address.
        pub end: u64,
    }

    pub const RV64: AddressLayout = AddressLayout {
        program_limit: 1 << 37,
        mmap_bottom: 1 << 37,
        stack_top: 1 << 38,
        stack_guard: 1 << 20,
        end: 1 << 38,
    };

    /// Everything below 2^31, so that an address and the sign extension of its 32 bits are
    /// the same number: the interpreter computes RV32 addresses with 64-bit arithmetic on
    /// sign-extended registers, and whatever lands at or above 2^31 (or wraps below 0) is
    /// unmapped there just as its 32-bit counterpart is.
    pub const RV32: AddressLayout = AddressLayout {
        program_limit: 1 << 30,
        mmap_bottom: 1 << 30,
        stack_top: 1 << 31,
        stack_guard: 1 << 20,
        end: 1 << 31,
    };

    pub const fn of(xlen: Xlen) -> &'static AddressLayout {
        match xlen {
            Xlen::Rv32 => &RV32,
            Xlen::Rv64 => &RV64,
        }
    }
}

/// The single thread's id, also its process id.
const GUEST_TID: u64 = 1;

/// Process state beyond registers and memory.
#[derive(Clone, Debug, Default)]
pub(crate) struct LinuxState {
    pub brk_start: u64,
    pub brk: u64,
    /// Top of the area where mmap places mappings without an address.
    pub mmap_top: u64,
    pub stack_size: u64,
}

fn argument(machine: &Machine, index: usize) -> u64 {
    machine.argument(index)
}

/// A C `int` argument (file descriptors, exit status).
#[expect(
    clippy::cast_possible_truncation,
    reason = "a C int is the low 32 bits of its register"
)]
fn int_argument(machine: &Machine, index: usize) -> i32 {
    machine.argument(index) as i32
}

fn errno(code: i64) -> u64 {
    (-code) as u64
}

/// What a system call costs beyond its `ecall`, in instructions, paid before it does the
/// work, as tenant calls pay theirs (`runtime::usage`): this fixed part, and a part per byte or
/// page it touches ([`price`]), so that no loop of calls does much work on a small budget.
pub const SYSCALL_COST: u64 = 100;

/// Bytes written or filled per instruction charged (`write`, `writev`, `getrandom`).
const BYTES_PER_INSTRUCTION: u64 = 16;

/// The price of system call `number` with the machine's arguments: [`SYSCALL_COST`], plus one
/// instruction per [`BYTES_PER_INSTRUCTION`] bytes written or filled, one per page mapped,
/// unmapped or protected, and for the calls that change mappings one per region the memory
/// has: they move the sorted list of regions, and mmap looks along it for free space, so a
/// guest that made thousands of them (a page each) pays for what each call then costs the
/// host.
fn price(machine: &mut Machine, number: u64) -> u64 {
    let work = match number {
        SYS_WRITE => argument(machine, 2).div_ceil(BYTES_PER_INSTRUCTION),
        SYS_GETRANDOM => argument(machine, 1).div_ceil(BYTES_PER_INSTRUCTION),
        SYS_WRITEV => writev_bytes(machine).div_ceil(BYTES_PER_INSTRUCTION),
        SYS_MMAP | SYS_MUNMAP | SYS_MPROTECT => argument(machine, 1)
            .div_ceil(PAGE_SIZE)
            .saturating_add(machine.memory.region_count() as u64),
        SYS_BRK => machine.memory.region_count() as u64,
        _ => 0,
    };
    SYSCALL_COST.saturating_add(work)
}

/// Handles Linux system call `number` (the asm-generic numbers that riscv32 and riscv64
/// share; RV32 has only the 64-bit-time variants of the time calls), once its [`price`] is
/// paid within `limit` (the instruction count the run may reach); `None` means continue with
/// the result in a0. The `ecall` at `pc` is where profiles count the price.
pub(crate) fn linux_syscall(
    machine: &mut Machine,
    number: u64,
    pc: u64,
    limit: u64,
) -> Option<Stop> {
    let price = price(machine, number);
    if !machine.pay(pc, price, limit) {
        return Some(Stop::BudgetExhausted);
    }
    let xlen = machine.xlen();
    let rv64 = xlen == Xlen::Rv64;
    let result = match number {
        SYS_WRITE => write(
            machine,
            argument(machine, 0),
            argument(machine, 1),
            argument(machine, 2),
        ),
        SYS_WRITEV => writev(machine),
        SYS_READ => match argument(machine, 0) {
            // No input: standard input is at its end.
            0 => 0,
            _ => errno(EBADF),
        },
        SYS_OPENAT => errno(ENOENT),
        SYS_CLOSE => match argument(machine, 0) {
            0..=2 => 0,
            _ => errno(EBADF),
        },
        // lseek on RV64, llseek on RV32: the standard streams are not seekable.
        SYS_LSEEK => match argument(machine, 0) {
            0..=2 => errno(ESPIPE),
            _ => errno(EBADF),
        },
        SYS_EXIT | SYS_EXIT_GROUP => return Some(Stop::Exited(int_argument(machine, 0))),
        SYS_BRK => brk(machine, argument(machine, 0)),
        SYS_MMAP => mmap(machine),
        SYS_MUNMAP => munmap(machine),
        SYS_MPROTECT => mprotect(machine),
        SYS_MADVISE => 0,
        SYS_FUTEX if rv64 => futex(machine),
        SYS_FUTEX_TIME64 if !rv64 => futex(machine),
        SYS_GETRANDOM => getrandom(machine),
        SYS_CLOCK_GETTIME if rv64 => clock_gettime(machine),
        SYS_CLOCK_GETTIME64 if !rv64 => clock_gettime(machine),
        SYS_GETTIMEOFDAY if rv64 => gettimeofday(machine),
        SYS_SET_TID_ADDRESS | SYS_GETTID | SYS_GETPID => GUEST_TID,
        SYS_GETPPID | SYS_GETUID | SYS_GETEUID | SYS_GETGID | SYS_GETEGID => 0,
        SYS_SET_ROBUST_LIST | SYS_SCHED_YIELD => 0,
        SYS_NANOSLEEP | SYS_CLOCK_NANOSLEEP if rv64 => 0,
        SYS_CLOCK_NANOSLEEP_TIME64 if !rv64 => 0,
        SYS_PRLIMIT64 => prlimit64(machine),
        SYS_READLINKAT => errno(ENOENT),
        // RV32 has statx only.
        SYS_NEWFSTATAT if rv64 => newfstatat(machine),
        SYS_FSTAT if rv64 => {
            fstat_standard_stream(machine, argument(machine, 0), argument(machine, 1))
        }
        SYS_IOCTL => errno(ENOTTY),
        // Rust's std polls fds 0-2 at start to see they are open: they are, with no events.
        SYS_PPOLL if rv64 => 0,
        SYS_PPOLL_TIME64 if !rv64 => 0,
        SYS_RT_SIGACTION => {
            // Kernel `struct sigaction`: handler, flags (words), mask (8 bytes).
            let size = 2 * xlen.word_bytes() + SIGSET_SIZE as u64;
            zero_fill_optional(machine, argument(machine, 2), size)
        }
        SYS_RT_SIGPROCMASK => zero_fill_optional(machine, argument(machine, 2), SIGSET_SIZE as u64),
        SYS_SIGALTSTACK => sigaltstack(machine),
        SYS_SCHED_GETAFFINITY => sched_getaffinity(machine),
        SYS_UNAME => uname(machine),
        SYS_SYSINFO => sysinfo(machine),
        SYS_KILL | SYS_TKILL | SYS_TGKILL => {
            let signal = argument(machine, if number == SYS_TGKILL { 2 } else { 1 });
            if signal == 0 {
                0
            } else {
                let pc = machine.cpu.pc;
                return Some(Stop::Trap(Trap {
                    pc,
                    kind: TrapKind::Signal {
                        signal: u32::try_from(signal).unwrap_or(u32::MAX),
                    },
                }));
            }
        }
        _ => errno(ENOSYS),
    };
    machine.cpu.x[A0] = xlen.register(result);
    None
}

fn write(machine: &mut Machine, fd: u64, buffer: u64, count: u64) -> u64 {
    if fd != 1 && fd != 2 {
        return errno(EBADF);
    }
    let Some(end) = buffer.checked_add(count) else {
        return errno(EFAULT);
    };
    if !machine.memory.is_mapped(buffer, end, Perms::READ) {
        return errno(EFAULT);
    }
    let mut open = true;
    machine.environment_touched = true;
    let environment = &mut machine.environment;
    let fd = if fd == 1 { 1 } else { 2 };
    let emitted = machine.memory.for_each_chunk(buffer, count, |chunk| {
        open &= environment.write_output(fd, chunk);
    });
    match (emitted, open) {
        (Err(_), _) => errno(EFAULT),
        (Ok(()), false) => errno(EPIPE),
        (Ok(()), true) => count,
    }
}

fn writev(machine: &mut Machine) -> u64 {
    let (fd, iov, iov_count) = (
        argument(machine, 0),
        argument(machine, 1),
        argument(machine, 2),
    );
    if iov_count > IOV_MAX {
        return errno(EINVAL);
    }
    // `struct iovec`: base and length, a word each.
    let word = machine.xlen().word_bytes();
    let mut total: u64 = 0;
    for index in 0..iov_count {
        let entry = iov.wrapping_add(index * 2 * word);
        let (Some(base), Some(len)) = (
            load_word(machine, entry),
            load_word(machine, entry.wrapping_add(word)),
        ) else {
            return errno(EFAULT);
        };
        let written = write(machine, fd, base, len);
        if (written as i64) < 0 {
            return written;
        }
        total += written;
    }
    total
}

/// The bytes `writev` would write: the sum of the lengths of the iovec entries it can read.
fn writev_bytes(machine: &mut Machine) -> u64 {
    let (iov, iov_count) = (argument(machine, 1), argument(machine, 2));
    let word = machine.xlen().word_bytes();
    (0..iov_count.min(IOV_MAX))
        .map_while(|index| load_word(machine, iov.wrapping_add((2 * index + 1) * word)))
        .fold(0u64, u64::saturating_add)
}

/// A word of the guest's ABI (`long`, pointer, `size_t`) from memory.
fn load_word(machine: &mut Machine, addr: u64) -> Option<u64> {
    match machine.xlen() {
        Xlen::Rv32 => machine.memory.load::<u32>(addr).ok().map(u64::from),
        Xlen::Rv64 => machine.memory.load::<u64>(addr).ok(),
    }
}

fn brk(machine: &mut Machine, requested: u64) -> u64 {
    let mmap_bottom = layout::of(machine.xlen()).mmap_bottom;
    let linux = &machine.linux;
    if requested < linux.brk_start {
        return linux.brk;
    }
    let (Some(old_end), Some(new_end)) = (page_round_up(linux.brk), page_round_up(requested))
    else {
        return linux.brk;
    };
    let changed = if new_end > old_end {
        // Keep the heap clear of the mmap area: mmap only uses addresses above it.
        if new_end > mmap_bottom {
            return machine.linux.brk;
        }
        machine
            .memory
            .map(old_end, new_end - old_end, Perms::READ_WRITE)
    } else if new_end < old_end {
        machine.memory.unmap(new_end, old_end - new_end)
    } else {
        Ok(())
    };
    // Linux reports failure by returning the unchanged break.
    if changed.is_ok() {
        machine.linux.brk = requested;
    }
    machine.linux.brk
}

fn perms_from_prot(prot: u64) -> Perms {
    Perms {
        read: prot & PROT_READ != 0,
        write: prot & PROT_WRITE != 0,
        execute: prot & PROT_EXEC != 0,
    }
}

fn map_error(error: MapError) -> u64 {
    match error {
        MapError::OutOfMemory | MapError::NotMapped => errno(ENOMEM),
        MapError::InvalidRange => errno(EINVAL),
    }
}

fn mmap(machine: &mut Machine) -> u64 {
    let [addr, len, prot, flags] = [0, 1, 2, 3].map(|index| argument(machine, index));
    let fd = int_argument(machine, 4);
    let layout = layout::of(machine.xlen());
    if flags & MAP_ANONYMOUS == 0 {
        // There are no files to map.
        return errno(if fd >= 0 { EACCES } else { EBADF });
    }
    let Some(len) = page_round_up(len).filter(|len| *len != 0) else {
        return errno(EINVAL);
    };
    let perms = perms_from_prot(prot);
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let start = if fixed {
        if addr % PAGE_SIZE != 0 {
            return errno(EINVAL);
        }
        let Some(end) = addr.checked_add(len) else {
            return errno(EINVAL);
        };
        if end > layout.end {
            return errno(ENOMEM);
        }
        if flags & MAP_FIXED_NOREPLACE != 0 && !machine.memory.is_free(addr, end) {
            return errno(EEXIST);
        }
        if overlaps_code(machine, addr, end) {
            return errno(EACCES);
        }
        addr
    } else {
        match machine
            .memory
            .find_free_range(len, layout.mmap_bottom, machine.linux.mmap_top)
        {
            Some(start) => start,
            None => return errno(ENOMEM),
        }
    };
    match machine.memory.map(start, len, perms) {
        Ok(()) => start,
        Err(error) => map_error(error),
    }
}

fn munmap(machine: &mut Machine) -> u64 {
    let (addr, len) = (argument(machine, 0), argument(machine, 1));
    let Some(len) = page_round_up(len).filter(|len| *len != 0) else {
        return errno(EINVAL);
    };
    if overlaps_code(machine, addr, addr.saturating_add(len)) {
        return errno(EACCES);
    }
    match machine.memory.unmap(addr, len) {
        Ok(()) => 0,
        Err(error) => map_error(error),
    }
}

fn mprotect(machine: &mut Machine) -> u64 {
    let (addr, len, prot) = (
        argument(machine, 0),
        argument(machine, 1),
        argument(machine, 2),
    );
    let Some(len) = page_round_up(len) else {
        return errno(EINVAL);
    };
    if len == 0 {
        return 0;
    }
    // Code is decoded once and never changes, so its pages never become writable.
    if prot & PROT_WRITE != 0 && overlaps_code(machine, addr, addr.saturating_add(len)) {
        return errno(EACCES);
    }
    match machine.memory.protect(addr, len, perms_from_prot(prot)) {
        Ok(()) => 0,
        Err(error) => map_error(error),
    }
}

/// Whether `[start, end)` touches a page of an executable segment.
fn overlaps_code(machine: &Machine, start: u64, end: u64) -> bool {
    machine
        .program
        .segments
        .iter()
        .filter(|segment| segment.perms.execute)
        .any(|segment| {
            let code_start = page_round_down(segment.vaddr);
            let code_end =
                page_round_up(segment.vaddr.saturating_add(segment.mem_size)).unwrap_or(u64::MAX);
            start < code_end && end > code_start
        })
}

fn futex(machine: &mut Machine) -> u64 {
    let (addr, operation) = (argument(machine, 0), argument(machine, 1));
    match operation & FUTEX_COMMAND_MASK {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => match machine.memory.load::<u32>(addr) {
            Err(_) => errno(EFAULT),
            // With one thread nobody could wake the waiter, so waiting would deadlock; the
            // caller sees a spurious failure and re-checks its condition.
            Ok(_) => errno(EAGAIN),
        },
        // Nobody waits, so there is nobody to wake.
        FUTEX_WAKE | FUTEX_WAKE_BITSET => 0,
        _ => errno(ENOSYS),
    }
}

fn getrandom(machine: &mut Machine) -> u64 {
    let (buffer, len) = (argument(machine, 0), argument(machine, 1));
    let Some(end) = buffer.checked_add(len) else {
        return errno(EFAULT);
    };
    if !machine.memory.is_mapped(buffer, end, Perms::READ_WRITE) {
        return errno(EFAULT);
    }
    let mut chunk = [0u8; 256];
    let mut cursor = buffer;
    machine.environment_touched = true;
    while cursor < end {
        let n = usize::try_from(end - cursor).map_or(chunk.len(), |left| left.min(chunk.len()));
        machine.environment.random_bytes(&mut chunk[..n]);
        if machine.memory.write_bytes(cursor, &chunk[..n]).is_err() {
            return errno(EFAULT);
        }
        cursor += n as u64;
    }
    len
}

fn clock_for(clock_id: u64) -> Clock {
    match clock_id {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE => Clock::Realtime,
        _ => Clock::Monotonic,
    }
}

/// Writes `values` as consecutive little-endian fields of `field_bytes` (4 or 8) each.
fn write_fields(machine: &mut Machine, addr: u64, field_bytes: u64, values: &[u64]) -> u64 {
    let field_bytes = if field_bytes == 4 { 4 } else { 8 };
    let bytes: Vec<u8> = values
        .iter()
        .flat_map(|value| value.to_le_bytes().into_iter().take(field_bytes))
        .collect();
    match machine.memory.write_bytes(addr, &bytes) {
        Ok(()) => 0,
        Err(_) => errno(EFAULT),
    }
}

/// Writes `words` as consecutive words of the guest's ABI (`long`, pointer, `size_t`).
fn write_words(machine: &mut Machine, addr: u64, words: &[u64]) -> u64 {
    let word = machine.xlen().word_bytes();
    write_fields(machine, addr, word, words)
}

/// `clock_gettime` on RV64 and `clock_gettime64` on RV32: both fill a 64-bit timespec.
fn clock_gettime(machine: &mut Machine) -> u64 {
    let (clock_id, timespec) = (argument(machine, 0), argument(machine, 1));
    let nanos = machine.environment.clock_nanos(clock_for(clock_id));
    write_fields(
        machine,
        timespec,
        8,
        &[nanos / 1_000_000_000, nanos % 1_000_000_000],
    )
}

fn gettimeofday(machine: &mut Machine) -> u64 {
    let timeval = argument(machine, 0);
    if timeval == 0 {
        return 0;
    }
    let nanos = machine.environment.clock_nanos(Clock::Realtime);
    write_words(
        machine,
        timeval,
        &[nanos / 1_000_000_000, nanos % 1_000_000_000 / 1000],
    )
}

fn prlimit64(machine: &mut Machine) -> u64 {
    let (resource, old_limit) = (argument(machine, 1), argument(machine, 3));
    if old_limit == 0 {
        return 0;
    }
    let limit = match resource {
        RLIMIT_STACK => machine.linux.stack_size,
        RLIMIT_DATA | RLIMIT_AS => machine.memory.limit_bytes(),
        _ => RLIM_INFINITY,
    };
    // `struct rlimit64`: two 64-bit fields on either width.
    write_fields(machine, old_limit, 8, &[limit, limit])
}

fn newfstatat(machine: &mut Machine) -> u64 {
    let (dir_fd, path, stat_buffer, flags) = (
        argument(machine, 0),
        argument(machine, 1),
        argument(machine, 2),
        argument(machine, 3),
    );
    let empty_path = matches!(machine.memory.load::<u8>(path), Ok(0));
    if flags & AT_EMPTY_PATH != 0 && empty_path {
        return fstat_standard_stream(machine, dir_fd, stat_buffer);
    }
    errno(ENOENT)
}

/// Standard streams look like a character device that is not a terminal (ioctl says so), so
/// stdio buffers them fully, as it does for pipes.
fn fstat_standard_stream(machine: &mut Machine, fd: u64, stat_buffer: u64) -> u64 {
    if fd > 2 {
        return errno(EBADF);
    }
    let mut stat = [0u8; STAT_SIZE];
    stat[STAT_MODE_OFFSET..STAT_MODE_OFFSET + 4].copy_from_slice(&(S_IFCHR | 0o620).to_le_bytes());
    stat[STAT_NLINK_OFFSET..STAT_NLINK_OFFSET + 4].copy_from_slice(&1u32.to_le_bytes());
    stat[STAT_BLKSIZE_OFFSET..STAT_BLKSIZE_OFFSET + 4].copy_from_slice(&1024u32.to_le_bytes());
    match machine.memory.write_bytes(stat_buffer, &stat) {
        Ok(()) => 0,
        Err(_) => errno(EFAULT),
    }
}

/// Writes `size` zero bytes to an optional output pointer (old signal action or mask): the
/// guest never has handlers installed nor signals blocked as far as it can tell.
fn zero_fill_optional(machine: &mut Machine, addr: u64, size: u64) -> u64 {
    if addr == 0 {
        return 0;
    }
    let zeros = [0u8; MAX_ZERO_FILLED];
    let size = usize::try_from(size).map_or(MAX_ZERO_FILLED, |size| size.min(MAX_ZERO_FILLED));
    match machine.memory.write_bytes(addr, &zeros[..size]) {
        Ok(()) => 0,
        Err(_) => errno(EFAULT),
    }
}

fn sigaltstack(machine: &mut Machine) -> u64 {
    let old_stack = argument(machine, 1);
    if old_stack == 0 {
        return 0;
    }
    write_words(machine, old_stack, &[0, SS_DISABLE, 0])
}

fn sched_getaffinity(machine: &mut Machine) -> u64 {
    let (size, mask) = (argument(machine, 1), argument(machine, 2));
    if size < 8 {
        return errno(EINVAL);
    }
    // One CPU: bit 0 of a 64-bit mask (two 32-bit words on RV32, the same bytes).
    match write_fields(machine, mask, 8, &[1]) {
        0 => 8,
        error => error,
    }
}

fn uname(machine: &mut Machine) -> u64 {
    let architecture: &[u8] = match machine.xlen() {
        Xlen::Rv32 => b"riscv32",
        Xlen::Rv64 => b"riscv64",
    };
    let fields: [&[u8]; UTSNAME_FIELDS] = [
        b"Linux",
        b"rvedge",
        b"6.1.0",
        b"#1",
        architecture,
        b"(none)",
    ];
    let mut utsname = [0u8; UTSNAME_FIELDS * UTSNAME_FIELD_SIZE];
    for (index, text) in fields.iter().enumerate() {
        let offset = index * UTSNAME_FIELD_SIZE;
        utsname[offset..offset + text.len()].copy_from_slice(text);
    }
    match machine.memory.write_bytes(argument(machine, 0), &utsname) {
        Ok(()) => 0,
        Err(_) => errno(EFAULT),
    }
}

/// The guest's memory as a machine of its own: total is its limit, free what it has not mapped.
/// (glibc's qsort asks, to size its buffers.) `struct sysinfo` is laid out in words of the
/// guest's `long`: totalram is word 4, freeram word 5, procs (u16) at word 10, mem_unit (u32)
/// at word 13, and the whole is 14 words on RV64 (no padding left) or 16 on RV32.
fn sysinfo(machine: &mut Machine) -> u64 {
    let xlen = machine.xlen();
    let word = usize::try_from(xlen.word_bytes()).unwrap_or(8);
    let total = machine.memory.limit_bytes();
    let free = total - machine.memory.mapped_bytes();
    let clamp = |value: u64| match xlen {
        Xlen::Rv32 => value.min(u64::from(u32::MAX)),
        Xlen::Rv64 => value,
    };
    let mut info = [0u8; 16 * 8];
    let size = match xlen {
        Xlen::Rv32 => 16 * word,
        Xlen::Rv64 => 14 * word,
    };
    info[4 * word..][..word].copy_from_slice(&clamp(total).to_le_bytes()[..word]);
    info[5 * word..][..word].copy_from_slice(&clamp(free).to_le_bytes()[..word]);
    info[10 * word..][..2].copy_from_slice(&1u16.to_le_bytes());
    info[13 * word..][..4].copy_from_slice(&1u32.to_le_bytes());
    match machine
        .memory
        .write_bytes(argument(machine, 0), &info[..size])
    {
        Ok(()) => 0,
        Err(_) => errno(EFAULT),
    }
}
