//! Starting a program as the Linux kernel does: map its segments, set up the stack with argc,
//! argv, envp and the auxiliary vector, and put the break after the data segment.

use alloc::vec::Vec;

use super::layout;
use super::numbers::*;
use crate::machine::{Machine, Options, SetupError};
use crate::mem::{page_round_down, page_round_up, Perms, PAGE_SIZE};
use crate::registers::SP;

const AT_RANDOM_BYTES: usize = 16;

pub(crate) fn start_process(machine: &mut Machine, options: &Options) -> Result<(), SetupError> {
    let out_of_memory = SetupError::OutOfMemory {
        needed_more_than: options.max_memory,
    };
    map_segments(machine).map_err(|()| out_of_memory.clone())?;

    let program = &machine.program;
    let data_end = program
        .segments
        .iter()
        .map(|segment| segment.vaddr + segment.mem_size)
        .max()
        .unwrap_or(0);
    let brk_start = page_round_up(data_end).ok_or(out_of_memory.clone())?;
    let layout = layout::of(program.xlen);
    let stack_size = page_round_up(options.stack_size.clamp(
        PAGE_SIZE,
        layout.stack_top - layout.mmap_bottom - layout.stack_guard,
    ))
    .ok_or(out_of_memory.clone())?;
    machine.linux.brk_start = brk_start;
    machine.linux.brk = brk_start;
    machine.linux.stack_size = stack_size;
    machine.linux.mmap_top = layout.stack_top - stack_size - layout.stack_guard;
    machine
        .memory
        .map(layout.stack_top - stack_size, stack_size, Perms::READ_WRITE)
        .map_err(|_| out_of_memory)?;

    let sp = build_initial_stack(machine, options)?;
    machine.cpu.x[SP] = sp;
    Ok(())
}

/// Maps each PT_LOAD segment and copies its file bytes. Neighbouring segments may share a
/// page; that page gets the union of their permissions.
fn map_segments(machine: &mut Machine) -> Result<(), ()> {
    let program = machine.program.clone();
    let memory = &mut machine.memory;
    let mut previous: Option<(u64, Perms)> = None;
    for segment in &program.segments {
        let start = page_round_down(segment.vaddr);
        let end = page_round_up(segment.vaddr + segment.mem_size).ok_or(())?;
        let mut map_from = start;
        if let Some((previous_end, previous_perms)) = previous {
            if start < previous_end {
                let shared = Perms {
                    read: previous_perms.read || segment.perms.read,
                    write: previous_perms.write || segment.perms.write,
                    execute: previous_perms.execute || segment.perms.execute,
                };
                memory
                    .protect(start, previous_end - start, shared)
                    .map_err(|_| ())?;
                map_from = previous_end;
            }
        }
        if end > map_from {
            memory
                .map(map_from, end - map_from, segment.perms)
                .map_err(|_| ())?;
        }
        memory
            .write_initial(segment.vaddr, &segment.data)
            .map_err(|_| ())?;
        previous = Some((end, segment.perms));
    }
    Ok(())
}

/// Lays out, from the top of the stack down: the argument and environment strings, the
/// AT_RANDOM bytes, then (16-byte aligned) argc, argv[], NULL, envp[], NULL, auxv pairs, in
/// words of the program's width (4 bytes on RV32, 8 on RV64).
fn build_initial_stack(machine: &mut Machine, options: &Options) -> Result<u64, SetupError> {
    let strings_size: usize = options
        .arguments
        .iter()
        .chain(&options.environment)
        .map(|text| text.len() + 1)
        .sum::<usize>()
        + AT_RANDOM_BYTES;
    let max_size = machine.linux.stack_size / 4;
    if strings_size as u64 > max_size {
        return Err(SetupError::ArgumentsTooLarge);
    }

    let mut cursor = layout::of(machine.program.xlen).stack_top;
    let mut push_string = |machine: &mut Machine, text: &[u8]| -> Result<u64, SetupError> {
        cursor -= text.len() as u64 + 1;
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text);
        bytes.push(0);
        machine
            .memory
            .write_bytes(cursor, &bytes)
            .map_err(|_| SetupError::ArgumentsTooLarge)?;
        Ok(cursor)
    };
    let mut argument_pointers = Vec::with_capacity(options.arguments.len());
    for argument in &options.arguments {
        argument_pointers.push(push_string(machine, argument.as_bytes())?);
    }
    let mut environment_pointers = Vec::with_capacity(options.environment.len());
    for variable in &options.environment {
        environment_pointers.push(push_string(machine, variable.as_bytes())?);
    }
    let mut random = [0u8; AT_RANDOM_BYTES];
    machine.environment_touched = true;
    machine.environment.random_bytes(&mut random);
    let random_address = push_string(machine, &random[..AT_RANDOM_BYTES - 1])?;
    // push_string appended a NUL; overwrite it so all 16 bytes are random.
    machine
        .memory
        .write_bytes(random_address, &random)
        .map_err(|_| SetupError::ArgumentsTooLarge)?;

    let program = &machine.program;
    let auxiliary_vector = [
        (AT_PHDR, program.program_headers_vaddr),
        (AT_PHENT, u64::from(program.program_header_entry_size)),
        (AT_PHNUM, u64::from(program.program_header_count)),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, program.entry),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_HWCAP, HWCAP_GC),
        (AT_CLKTCK, CLOCK_TICKS_PER_SECOND),
        (AT_SECURE, 0),
        (AT_RANDOM, random_address),
        (AT_NULL, 0),
    ];
    let mut words: Vec<u64> = Vec::new();
    words.push(argument_pointers.len() as u64);
    words.extend(&argument_pointers);
    words.push(0);
    words.extend(&environment_pointers);
    words.push(0);
    for (key, value) in auxiliary_vector {
        words.push(key);
        words.push(value);
    }
    let word_bytes = program.xlen.word_bytes();
    let sp = (random_address - words.len() as u64 * word_bytes) & !0xf;
    let bytes: Vec<u8> = words
        .iter()
        .flat_map(|word| {
            word.to_le_bytes()
                .into_iter()
                .take(program.xlen.word_size())
        })
        .collect();
    machine
        .memory
        .write_bytes(sp, &bytes)
        .map_err(|_| SetupError::ArgumentsTooLarge)?;
    Ok(sp)
}
