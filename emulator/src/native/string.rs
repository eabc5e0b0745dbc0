//! glibc's string functions as host code. Each gives glibc's result (comparisons return the
//! difference of the first differing bytes, as glibc 2.36's do) and touches only pages the
//! guest's code would touch; where the guest's code would fault, it runs instead.

#![expect(
    clippy::cast_possible_truncation,
    reason = "copy sizes are cut to CHUNK-sized buffers first; byte arguments keep their low 8 bits, as C converts them to unsigned char"
)]

use super::{int_result, prepare_write, readable, CallResult, Failure, HostFunction, Meter};
use crate::mem::{Access, Memory, PAGE_SIZE};

/// Bytes moved through a host buffer per step: small, so short calls (the usual ones) do not
/// pay for clearing a large buffer.
const CHUNK: usize = 256;

pub(super) fn call(
    memory: &mut Memory,
    function: HostFunction,
    [a0, a1, a2, _]: [u64; 4],
    meter: &mut Meter,
) -> CallResult {
    match function {
        HostFunction::Memcpy => memcpy(memory, a0, a1, a2, meter),
        HostFunction::Memmove => memmove(memory, a0, a1, a2, meter),
        HostFunction::Memset => memset(memory, a0, a1 as u8, a2, meter),
        HostFunction::Memcmp => memcmp(memory, a0, a1, a2, meter),
        HostFunction::Memchr => memchr(memory, a0, a1 as u8, a2, meter),
        HostFunction::Strlen => strlen(memory, a0, meter),
        HostFunction::Strcmp => strncmp(memory, a0, a1, u64::MAX, meter),
        HostFunction::Strncmp => strncmp(memory, a0, a1, a2, meter),
        HostFunction::Strchr => strchr(memory, a0, a1 as u8, meter),
        _ => Err(Failure::RunGuestCode),
    }
}

/// The guest faults somewhere in this call: its own code finds where.
fn guest_faults() -> Failure {
    Failure::RunGuestCode
}

fn memcpy(memory: &mut Memory, dst: u64, src: u64, len: u64, meter: &mut Meter) -> CallResult {
    // Overlapping copies are undefined in C; glibc's result depends on its loop, so it runs.
    let overlap = dst != src && dst.abs_diff(src) < len;
    if overlap {
        return Err(Failure::RunGuestCode);
    }
    copy(memory, dst, src, len, false, meter)?;
    Ok(dst)
}

fn memmove(memory: &mut Memory, dst: u64, src: u64, len: u64, meter: &mut Meter) -> CallResult {
    // glibc copies backwards exactly when the destination starts inside the source.
    let backward = dst.wrapping_sub(src) < len;
    copy(memory, dst, src, len, backward, meter)?;
    Ok(dst)
}

/// Where the `len` bytes at `addr` are on the host and how many they are, when they lie in
/// one page the TLB for `access` holds ([`Memory::cached`]): no fault and no page to copy,
/// so the host can access them in one go.
fn cached(memory: &Memory, addr: u64, len: u64, access: Access) -> Option<(*mut u8, usize)> {
    let size = usize::try_from(len).ok()?;
    Some((memory.cached(addr, size, access)?, size))
}

/// Copies `len` bytes in chunks; each chunk is read whole before it is written, and chunks go
/// from the end when `backward`, so overlapping ranges copy as memmove does.
fn copy(
    memory: &mut Memory,
    dst: u64,
    src: u64,
    len: u64,
    backward: bool,
    meter: &mut Meter,
) -> Result<(), Failure> {
    meter.spend_bytes(len.saturating_mul(2))?;
    if let (Some((from, size)), Some((to, _))) = (
        cached(memory, src, len, Access::Read),
        cached(memory, dst, len, Access::Write),
    ) {
        // Both in pages the guest has used, the usual short copy: one host copy, with
        // memmove's result when the ranges overlap, as the loop below gives.
        // SAFETY: `cached` gives pointers with `size` bytes of a live page behind them, the
        // destination's in a page this memory owns; `copy` allows overlap.
        unsafe { core::ptr::copy(from, to, size) };
        return Ok(());
    }
    // Reading first: it changes nothing, and the guest would fault on a load no later.
    if !readable(memory, src, len) || !prepare_write(memory, dst, len, backward) {
        return Err(guest_faults());
    }
    let mut buffer = [0u8; CHUNK];
    let mut done = 0u64;
    while done < len {
        let size = (len - done).min(CHUNK as u64);
        let offset = if backward { len - done - size } else { done };
        let chunk = &mut buffer[..size as usize];
        // Both ranges were checked, so neither fails; if one did, the guest's code decides.
        memory
            .read_bytes(src + offset, chunk)
            .map_err(|_| guest_faults())?;
        memory
            .write_bytes(dst + offset, chunk)
            .map_err(|_| guest_faults())?;
        done += size;
    }
    Ok(())
}

fn memset(memory: &mut Memory, dst: u64, byte: u8, len: u64, meter: &mut Meter) -> CallResult {
    meter.spend_bytes(len)?;
    if let Some((to, size)) = cached(memory, dst, len, Access::Write) {
        // SAFETY: `cached` gives a pointer with `size` bytes of a page this memory owns.
        unsafe { core::ptr::write_bytes(to, byte, size) };
        return Ok(dst);
    }
    if !prepare_write(memory, dst, len, false) {
        return Err(guest_faults());
    }
    let fill = [byte; CHUNK];
    let mut done = 0u64;
    while done < len {
        let size = (len - done).min(CHUNK as u64);
        memory
            .write_bytes(dst + done, &fill[..size as usize])
            .map_err(|_| guest_faults())?;
        done += size;
    }
    Ok(dst)
}

fn memcmp(memory: &mut Memory, left: u64, right: u64, len: u64, meter: &mut Meter) -> CallResult {
    // glibc compares whole words, beyond the first difference: it may touch every page.
    if !readable(memory, left, len) || !readable(memory, right, len) {
        return Err(guest_faults());
    }
    let mut left_chunk = [0u8; CHUNK];
    let mut right_chunk = [0u8; CHUNK];
    let mut done = 0u64;
    while done < len {
        let size = (len - done).min(CHUNK as u64) as usize;
        meter.spend_bytes(2 * size as u64)?;
        memory
            .read_bytes(left + done, &mut left_chunk[..size])
            .map_err(|_| guest_faults())?;
        memory
            .read_bytes(right + done, &mut right_chunk[..size])
            .map_err(|_| guest_faults())?;
        let pairs = left_chunk[..size].iter().zip(&right_chunk[..size]);
        if let Some((a, b)) = pairs.into_iter().find(|(a, b)| a != b) {
            return Ok(int_result(i32::from(*a) - i32::from(*b)));
        }
        done += size as u64;
    }
    Ok(0)
}

/// Bytes from `addr` to the end of its page.
fn page_rest(addr: u64) -> u64 {
    PAGE_SIZE - addr % PAGE_SIZE
}

/// Reads from `addr` a chunk at a time, never past the page it starts in, (at most `limit` bytes) until `stop` says where in a
/// chunk to stop; returns the offset from `addr` it stopped at, or None at `limit`. Only pages
/// holding bytes up to the stop are touched, as glibc's aligned word loads touch them.
fn scan(
    memory: &mut Memory,
    addr: u64,
    limit: u64,
    meter: &mut Meter,
    mut stop: impl FnMut(&[u8]) -> Option<usize>,
) -> Result<Option<u64>, Failure> {
    let mut chunk = [0u8; CHUNK];
    let mut done = 0u64;
    while done < limit {
        let cursor = addr.wrapping_add(done);
        let size = page_rest(cursor).min(limit - done).min(CHUNK as u64);
        meter.spend_bytes(size)?;
        let bytes = &mut chunk[..size as usize];
        memory
            .read_bytes(cursor, bytes)
            .map_err(|_| guest_faults())?;
        if let Some(index) = stop(bytes) {
            return Ok(Some(done + index as u64));
        }
        done += size;
    }
    Ok(None)
}

fn memchr(memory: &mut Memory, addr: u64, byte: u8, len: u64, meter: &mut Meter) -> CallResult {
    let found = scan(memory, addr, len, meter, |bytes| {
        bytes.iter().position(|&candidate| candidate == byte)
    })?;
    Ok(found.map_or(0, |offset| addr.wrapping_add(offset)))
}

fn strlen(memory: &mut Memory, addr: u64, meter: &mut Meter) -> CallResult {
    let found = scan(memory, addr, u64::MAX, meter, |bytes| {
        bytes.iter().position(|&byte| byte == 0)
    })?;
    // A string running to the end of the address space: the guest's code faults there.
    found.ok_or_else(guest_faults)
}

fn strchr(memory: &mut Memory, addr: u64, byte: u8, meter: &mut Meter) -> CallResult {
    let mut found_byte = false;
    let found = scan(memory, addr, u64::MAX, meter, |bytes| {
        let index = bytes
            .iter()
            .position(|&candidate| candidate == byte || candidate == 0)?;
        found_byte = bytes[index] == byte;
        Some(index)
    })?;
    let offset = found.ok_or_else(guest_faults)?;
    Ok(if found_byte {
        addr.wrapping_add(offset)
    } else {
        0
    })
}

/// strncmp, and strcmp with no limit: both strings are read in step, in chunks that stay
/// within the current page of each, as glibc's byte loops read them.
fn strncmp(
    memory: &mut Memory,
    left: u64,
    right: u64,
    limit: u64,
    meter: &mut Meter,
) -> CallResult {
    let mut left_chunk = [0u8; CHUNK];
    let mut right_chunk = [0u8; CHUNK];
    let mut done = 0u64;
    while done < limit {
        let (left_cursor, right_cursor) = (left.wrapping_add(done), right.wrapping_add(done));
        let size = page_rest(left_cursor)
            .min(page_rest(right_cursor))
            .min(limit - done)
            .min(CHUNK as u64);
        meter.spend_bytes(2 * size)?;
        let (a, b) = (
            &mut left_chunk[..size as usize],
            &mut right_chunk[..size as usize],
        );
        memory
            .read_bytes(left_cursor, a)
            .map_err(|_| guest_faults())?;
        memory
            .read_bytes(right_cursor, b)
            .map_err(|_| guest_faults())?;
        if let Some((x, y)) = a.iter().zip(b.iter()).find(|(x, y)| **x == 0 || x != y) {
            return Ok(int_result(i32::from(*x) - i32::from(*y)));
        }
        done += size;
    }
    Ok(0)
}
