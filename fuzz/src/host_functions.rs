//! glibc's string functions against the host's (`rvedge::native`): the guest
//! `tests/guests/embed/string_calls.c` is loaded twice, once with host string functions, and
//! waits with its memory laid out; each input calls one function in a machine made from each
//! template, with pointers into readable, writable, read-only and unmapped pages (near their
//! ends too), NULL or anywhere; lengths small, about a page, or near 2^64; and an unlimited
//! budget, so the host does every call it can (a budget too small for a call's price leaves it
//! to glibc's code). Both machines must end alike: the same result or the same stop (a fault
//! at the same pc and address), and the same bytes in both regions.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::InputReader;
use rvedge::native::HostFunctionOptions;
use rvedge::registers::{A0, A1, A2};
use rvedge::{Isolated, Machine, Options, Program, Snapshot, Stop, PAGE_SIZE as PAGE};

/// Each region is three pages (`string_calls.c`).
const REGION_BYTES: u64 = 3 * PAGE;
/// The functions `call` knows, and one number it does not.
const FUNCTIONS: u8 = 10;
/// Bytes an input may change in the regions before the call: where strings end, what
/// `memchr` and `strchr` find.
const MAX_EDITS: usize = 8;

/// The guest waiting in both loadings, and where its function and regions are.
struct Templates {
    guest_code: Snapshot,
    host_code: Snapshot,
    call: u64,
    area: u64,
    buffer: u64,
}

fn templates() -> &'static Templates {
    static TEMPLATES: OnceLock<Templates> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let path = string_calls_path();
        let elf = std::fs::read(&path).unwrap_or_else(|error| {
            panic!(
                "cannot read {}: {error} (scripts/fuzz.sh builds it; or set GUEST_OUT to the \
                 output of scripts/build-guests.sh)",
                path.display()
            )
        });
        let (guest_code, layout) = waiting(&elf, false);
        let (host_code, host_layout) = waiting(&elf, true);
        assert_eq!(layout, host_layout, "both loadings lay memory out alike");
        let [call, area, buffer] = layout;
        Templates {
            guest_code,
            host_code,
            call,
            area,
            buffer,
        }
    })
}

/// `$GUEST_OUT/embed/string_calls`, where scripts/build-guests.sh puts it.
fn string_calls_path() -> PathBuf {
    crate::guests_dir().join("embed/string_calls")
}

/// The guest run to its "wait here" host call, with or without host string functions, and
/// the addresses it handed over: `call`, `area`, `buffer`.
fn waiting(elf: &[u8], host_string_functions: bool) -> (Snapshot, [u64; 3]) {
    let options = HostFunctionOptions {
        string_functions: host_string_functions,
        heap: false,
    };
    let program = Program::from_elf_with(elf, options).expect("string_calls loads");
    let mut machine = Machine::new(program, &Options::default(), Box::new(Isolated::default()))
        .expect("string_calls starts");
    let mut layout = [0; 3];
    let stop = machine.run_with_host_calls(100_000_000, &mut |machine, number| match number {
        500 => {
            layout = [A0, A1, A2].map(|register| machine.register(register));
            None
        }
        _ => Some(Stop::HostCall(number)),
    });
    assert_eq!(stop, Stop::HostCall(501), "string_calls waits");
    (machine.snapshot(), layout)
}

/// One call, as the fuzz input describes it.
#[derive(Debug)]
struct Call {
    function: u64,
    a: u64,
    b: u64,
    length: u64,
    byte: u64,
    /// (address, byte) written in both machines first.
    edits: Vec<(u64, u8)>,
}

fn read_call(data: &[u8], templates: &Templates) -> Call {
    let mut input = InputReader::new(data);
    let function = u64::from(input.byte() % FUNCTIONS);
    let a = pointer(&mut input, templates);
    let b = pointer(&mut input, templates);
    let length = length(&mut input);
    let byte = u64::from(input.byte());
    let n_edits = usize::from(input.byte()) % (MAX_EDITS + 1);
    let edits = (0..n_edits)
        .map(|_| {
            let [region, low, high, value] = input.array();
            // The writable pages: area's first, buffer's three.
            let offset = u64::from(u16::from_le_bytes([low, high]));
            let addr = if region % 2 == 0 {
                templates.area + offset % PAGE
            } else {
                templates.buffer + offset % REGION_BYTES
            };
            (addr, value)
        })
        .collect();
    Call {
        function,
        a,
        b,
        length,
        byte,
        edits,
    }
}

fn pointer(input: &mut InputReader, templates: &Templates) -> u64 {
    let choice = input.byte();
    let [low, high] = input.array();
    let offset = u64::from(u16::from_le_bytes([low, high]));
    let near_end = u64::from(low % 128);
    match choice % 7 {
        // Anywhere in a region, or just past it.
        0 => templates.area + offset % (REGION_BYTES + 64),
        1 => templates.buffer + offset % (REGION_BYTES + 64),
        // Near the end of area's writable page (the unmapped one follows) or its read-only one.
        2 => templates.area + PAGE - near_end,
        3 => templates.area + REGION_BYTES - near_end,
        4 => templates.buffer + REGION_BYTES - near_end,
        5 => near_end,
        _ => u64::from_le_bytes(input.array()),
    }
}

fn length(input: &mut InputReader) -> u64 {
    let choice = input.byte();
    let [low, high] = input.array();
    let small = u64::from(u16::from_le_bytes([low, high]));
    match choice % 6 {
        0 => small % 256,
        1 => small,
        2 => PAGE - 64 + small % 128,
        // Lengths that wrap the address space from most addresses.
        3 => u64::MAX - small,
        4 => u64::from_le_bytes(input.array()),
        _ => 0,
    }
}

/// How a call ended, and the bytes of both regions afterwards (the unmapped page as zeros).
fn run(snapshot: &Snapshot, templates: &Templates, call: &Call) -> (Result<u64, Stop>, Vec<u8>) {
    let mut machine = Machine::from_snapshot(snapshot, Box::new(Isolated::default()));
    for &(addr, value) in &call.edits {
        machine
            .write_memory(addr, &[value])
            .expect("edits go to writable pages");
    }
    let arguments = [call.function, call.a, call.b, call.length, call.byte];
    let result = machine.call(templates.call, &arguments, u64::MAX, &mut |_, number| {
        Some(Stop::HostCall(number))
    });
    let mut bytes = vec![0; 2 * REGION_BYTES as usize];
    let (area, buffer) = bytes.split_at_mut(REGION_BYTES as usize);
    for (page, start) in [(0, 0), (2, 2 * PAGE as usize)] {
        machine
            .read_memory(
                templates.area + page * PAGE,
                &mut area[start..start + PAGE as usize],
            )
            .expect("area's pages but the middle one are readable");
    }
    machine
        .read_memory(templates.buffer, buffer)
        .expect("buffer is readable");
    (result, bytes)
}

/// The oracle: glibc's code and the host's end alike.
pub fn check_host_functions(data: &[u8]) {
    let templates = templates();
    let call = read_call(data, templates);
    let (guest_result, guest_bytes) = run(&templates.guest_code, templates, &call);
    let (host_result, host_bytes) = run(&templates.host_code, templates, &call);
    assert_eq!(
        host_result, guest_result,
        "host function (left) and glibc's code (right) end differently: {call:x?}"
    );
    if let Some(offset) = (0..guest_bytes.len()).find(|&i| guest_bytes[i] != host_bytes[i]) {
        let region = if (offset as u64) < REGION_BYTES {
            format!("area + {offset:#x}")
        } else {
            format!("buffer + {:#x}", offset as u64 - REGION_BYTES)
        };
        panic!(
            "memory differs first at {region}: host {:#x}, glibc's code {:#x}: {call:x?}",
            host_bytes[offset], guest_bytes[offset]
        );
    }
}
