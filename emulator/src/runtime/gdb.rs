//! A GDB remote serial protocol stub: a debugger (`gdb-multiarch`, `target remote`) reads and
//! writes a stopped machine's registers (integer, pc, floating point and `fcsr`) and memory,
//! sets breakpoints, steps one instruction and continues, then detaches. Hosts give it a
//! [`DebugTarget`] (a plain machine, a tenant's fork, a whole exchange) and a connection; the
//! stub does no I/O of its own beyond that connection, so each host decides where it listens
//! (the CLI and the VMOD use 127.0.0.1).
//!
//! Breakpoints never write guest code (it is immutable): the stub stops before running an
//! instruction at a breakpoint's address.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::host::Host;
use super::tenant::{Fork, RequestError, StepOutcome};
use crate::{Machine, Stop, TrapKind, Xlen};

/// What a debugger drives: a machine stopped before an instruction.
pub trait DebugTarget {
    /// The machine whose registers and memory the debugger sees (none once the target ended).
    fn machine(&mut self) -> Option<&mut Machine>;
    /// Runs one instruction (serving a tenant or system call it makes).
    fn step(&mut self) -> Stepped;
}

/// Where a step left the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stepped {
    /// It stopped before its next instruction.
    Running,
    /// The code being debugged is over: it exited with this status.
    Exited(u8),
    /// It ended with this signal (a trap, a failure).
    Killed(u8),
}

/// The debugger's side of the connection.
pub trait Connection: Read + Write {
    /// Whether the debugger asked to stop the running target (Ctrl-C); must not block.
    fn interrupted(&mut self) -> bool {
        false
    }
}

/// A plain program (`rvedge run --gdb`): Linux system calls are served, tenant calls end it.
#[derive(Debug)]
pub struct MachineTarget<'a>(pub &'a mut Machine);

impl DebugTarget for MachineTarget<'_> {
    fn machine(&mut self) -> Option<&mut Machine> {
        Some(self.0)
    }

    fn step(&mut self) -> Stepped {
        match self.0.step() {
            None => Stepped::Running,
            // A wait status holds the low 8 bits of the exit status, as GDB's W packet.
            Some(Stop::Exited(status)) => Stepped::Exited(status.to_le_bytes()[0]),
            Some(Stop::Trap(trap)) => Stepped::Killed(match trap.kind {
                TrapKind::IllegalInstruction { .. } => SIGILL,
                TrapKind::Breakpoint => SIGTRAP,
                TrapKind::MisalignedAtomic { .. } => SIGBUS,
                TrapKind::Signal { signal } => u8::try_from(signal).unwrap_or(SIGSEGV),
                TrapKind::InstructionFetch | TrapKind::Load { .. } | TrapKind::Store { .. } => {
                    SIGSEGV
                }
            }),
            Some(_) => Stepped::Killed(SIGSEGV),
        }
    }
}

/// A tenant's call entered in a fork (a hook stopped at `breakpoint()`): tenant calls are
/// served by `host`; the call's end is kept for the host.
#[expect(
    missing_debug_implementations,
    reason = "holds a host, which need not be Debug"
)]
pub struct ForkTarget<'a> {
    pub fork: &'a mut Fork,
    pub host: &'a mut dyn Host,
    /// How the call ended, once it did.
    pub finished: Option<Result<(), RequestError>>,
}

impl DebugTarget for ForkTarget<'_> {
    fn machine(&mut self) -> Option<&mut Machine> {
        Some(self.fork.machine_mut())
    }

    fn step(&mut self) -> Stepped {
        match self.fork.step(self.host) {
            StepOutcome::Running => Stepped::Running,
            StepOutcome::Finished(result) => {
                let stepped = if result.is_ok() {
                    Stepped::Exited(0)
                } else {
                    Stepped::Killed(SIGABRT)
                };
                self.finished = Some(result);
                stepped
            }
        }
    }
}

/// A debugger connected over TCP.
#[derive(Debug)]
pub struct TcpConnection(TcpStream);

impl TcpConnection {
    /// Waits for one debugger on 127.0.0.1:`port` (forever without `timeout`). Only local
    /// debuggers can connect: the stub reads and writes the tenant's memory.
    pub fn accept(port: u16, timeout: Option<Duration>) -> io::Result<TcpConnection> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        let Some(timeout) = timeout else {
            let (stream, _) = listener.accept()?;
            stream.set_nodelay(true)?;
            return Ok(TcpConnection(stream));
        };
        listener.set_nonblocking(true)?;
        let deadline = Instant::now() + timeout;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false)?;
                    stream.set_nodelay(true)?;
                    // A debugger that goes quiet does not hold the request for ever.
                    stream.set_read_timeout(Some(timeout))?;
                    return Ok(TcpConnection(stream));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "no debugger connected in time",
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(error) => return Err(error),
            }
        }
    }
}

impl Read for TcpConnection {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.0.read(buffer)
    }
}

impl Write for TcpConnection {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Connection for TcpConnection {
    fn interrupted(&mut self) -> bool {
        let mut byte = [0u8; 1];
        if self.0.set_nonblocking(true).is_err() {
            return false;
        }
        let interrupt = matches!(self.0.peek(&mut byte), Ok(1)) && byte[0] == 0x03;
        if interrupt {
            let _ = self.0.read(&mut byte);
        }
        let _ = self.0.set_nonblocking(false);
        interrupt
    }
}

/// How a debugging session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// The debugger detached (`detach`, `quit`): the target goes on without it.
    Detached,
    /// The debugger asked to kill the target (`kill`).
    Killed,
    /// The code being debugged ended while the debugger watched.
    TargetEnded(Stepped),
    /// The connection closed or failed.
    Disconnected,
}

const SIGINT: u8 = 2;
const SIGILL: u8 = 4;
const SIGTRAP: u8 = 5;
const SIGABRT: u8 = 6;
const SIGBUS: u8 = 7;
const SIGSEGV: u8 = 11;
/// Instructions a `continue` runs between checks for the debugger's interrupt.
const STEPS_BETWEEN_INTERRUPT_CHECKS: u64 = 1 << 14;
/// Longest packet accepted (the stub advertises it as `PacketSize`).
const MAX_PACKET: usize = 0x4000;

// GDB's RISC-V register numbers, which the target description below names.
const PC_REGNUM: usize = 32;
const FIRST_FP_REGNUM: usize = 33;
const FFLAGS_REGNUM: usize = 66;
const FRM_REGNUM: usize = 67;
const FCSR_REGNUM: usize = 68;

/// Serves the debugger on `connection` until it detaches, the target ends, or the connection
/// fails. The target starts stopped.
pub fn serve(connection: &mut dyn Connection, target: &mut dyn DebugTarget) -> SessionEnd {
    let xlen = target
        .machine()
        .map_or(Xlen::Rv64, |machine| machine.xlen());
    let mut stub = Stub {
        connection,
        target,
        xlen,
        breakpoints: BTreeSet::new(),
        buffered: Vec::new(),
    };
    match stub.run() {
        Ok(end) => end,
        Err(_) => SessionEnd::Disconnected,
    }
}

struct Stub<'a> {
    connection: &'a mut dyn Connection,
    target: &'a mut dyn DebugTarget,
    /// The program's width: integer registers and pc go over the wire at this size.
    xlen: Xlen,
    breakpoints: BTreeSet<u64>,
    /// Bytes read but not used yet.
    buffered: Vec<u8>,
}

/// What a command asks of the session.
enum Reply {
    Packet(String),
    End(SessionEnd),
}

impl Stub<'_> {
    fn run(&mut self) -> io::Result<SessionEnd> {
        loop {
            let Some(packet) = self.read_packet()? else {
                return Ok(SessionEnd::Disconnected);
            };
            match self.command(&packet) {
                Reply::Packet(reply) => self.send(&reply)?,
                Reply::End(end) => {
                    if let SessionEnd::TargetEnded(stepped) = end {
                        self.send(&ending(stepped))?;
                    }
                    if end == SessionEnd::Detached {
                        self.send("OK")?;
                    }
                    return Ok(end);
                }
            }
        }
    }

    fn command(&mut self, packet: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(packet);
        let text = text.as_ref();
        let reply = |text: &str| Reply::Packet(text.to_string());
        match text.as_bytes().first() {
            None => reply(""),
            Some(b'?') => reply(&format!("S{SIGTRAP:02x}")),
            Some(b'g') => Reply::Packet(self.read_general_registers()),
            Some(b'G') => reply(self.write_general_registers(&text[1..])),
            Some(b'p') => Reply::Packet(self.read_register(&text[1..])),
            Some(b'P') => reply(self.write_register(&text[1..])),
            Some(b'm') => Reply::Packet(self.read_memory(&text[1..])),
            Some(b'M') => reply(self.write_memory(&text[1..])),
            Some(b'Z') => reply(self.breakpoint(&text[1..], true)),
            Some(b'z') => reply(self.breakpoint(&text[1..], false)),
            Some(b's') => self.resume(true),
            Some(b'c') => self.resume(false),
            Some(b'D') => Reply::End(SessionEnd::Detached),
            Some(b'k') => Reply::End(SessionEnd::Killed),
            Some(b'H') | Some(b'!') => reply("OK"),
            Some(b'T') => reply("OK"),
            Some(b'q') => reply(&self.query(text)),
            // vCont, X (binary writes) and the rest: not supported, GDB falls back.
            Some(_) => reply(""),
        }
    }

    fn query(&mut self, text: &str) -> String {
        if text.starts_with("qSupported") {
            return format!("PacketSize={MAX_PACKET:x};qXfer:features:read+;swbreak+;hwbreak+");
        }
        if let Some(request) = text.strip_prefix("qXfer:features:read:target.xml:") {
            return target_xml_chunk(self.xlen, request);
        }
        match text {
            "qAttached" => "1".into(),
            "qC" => "QC1".into(),
            "qfThreadInfo" => "m1".into(),
            "qsThreadInfo" => "l".into(),
            _ if text.starts_with("qSymbol") => "OK".into(),
            _ => String::new(),
        }
    }

    /// `s` or `c`: runs the target (one instruction, or to a breakpoint), then reports.
    fn resume(&mut self, single_step: bool) -> Reply {
        let mut steps: u64 = 0;
        loop {
            match self.target.step() {
                Stepped::Running => {}
                ended => return Reply::End(SessionEnd::TargetEnded(ended)),
            }
            steps += 1;
            if single_step {
                return Reply::Packet(format!("S{SIGTRAP:02x}"));
            }
            let pc = self.target.machine().map(|machine| machine.pc());
            if pc.is_some_and(|pc| self.breakpoints.contains(&pc)) {
                return Reply::Packet(format!("T{SIGTRAP:02x}swbreak:;"));
            }
            if steps.is_multiple_of(STEPS_BETWEEN_INTERRUPT_CHECKS) && self.connection.interrupted()
            {
                return Reply::Packet(format!("S{SIGINT:02x}"));
            }
        }
    }

    fn read_general_registers(&mut self) -> String {
        let xlen = self.xlen;
        let Some(machine) = self.target.machine() else {
            return "E01".into();
        };
        let mut out = String::with_capacity(33 * 2 * xlen.word_size());
        for index in 0..32 {
            out.push_str(&hex_word(xlen, machine.register(index)));
        }
        out.push_str(&hex_word(xlen, machine.pc()));
        out
    }

    fn write_general_registers(&mut self, hex: &str) -> &'static str {
        let xlen = self.xlen;
        let Some(bytes) = from_hex(hex) else {
            return "E01";
        };
        let Some(machine) = self.target.machine() else {
            return "E01";
        };
        for (index, chunk) in bytes.chunks_exact(xlen.word_size()).enumerate().take(33) {
            let value = xlen.register(le_value(chunk));
            if index == 32 {
                machine.set_pc(value);
            } else {
                machine.set_register(index, value);
            }
        }
        "OK"
    }

    fn read_register(&mut self, number: &str) -> String {
        let Ok(number) = usize::from_str_radix(number, 16) else {
            return "E01".into();
        };
        let xlen = self.xlen;
        let Some(machine) = self.target.machine() else {
            return "E01".into();
        };
        match number {
            0..=31 => hex_word(xlen, machine.register(number)),
            PC_REGNUM => hex_word(xlen, machine.pc()),
            FIRST_FP_REGNUM..=64 => hex_le(machine.float_register(number - FIRST_FP_REGNUM), 8),
            FFLAGS_REGNUM => hex_le(u64::from(machine.float_csr() & 0x1f), 4),
            FRM_REGNUM => hex_le(u64::from(machine.float_csr() >> 5), 4),
            FCSR_REGNUM => hex_le(u64::from(machine.float_csr()), 4),
            _ => "E45".into(),
        }
    }

    fn write_register(&mut self, assignment: &str) -> &'static str {
        let Some((number, value)) = assignment.split_once('=') else {
            return "E01";
        };
        let (Ok(number), Some(bytes)) = (usize::from_str_radix(number, 16), from_hex(value)) else {
            return "E01";
        };
        let value = le_value(&bytes);
        let xlen = self.xlen;
        let Some(machine) = self.target.machine() else {
            return "E01";
        };
        let csr = machine.float_csr();
        // fflags, frm and fcsr are at most 32 bits wide: GDB sends their low bytes.
        let value_u32 = (value & 0xffff_ffff) as u32;
        match number {
            0..=31 => machine.set_register(number, xlen.register(value)),
            PC_REGNUM => machine.set_pc(xlen.register(value)),
            FIRST_FP_REGNUM..=64 => machine.set_float_register(number - FIRST_FP_REGNUM, value),
            FFLAGS_REGNUM => machine.set_float_csr(csr & !0x1f | (value_u32 & 0x1f)),
            FRM_REGNUM => machine.set_float_csr(csr & 0x1f | (value_u32 & 0x7) << 5),
            FCSR_REGNUM => machine.set_float_csr(value_u32),
            _ => return "E45",
        }
        "OK"
    }

    fn read_memory(&mut self, request: &str) -> String {
        let Some((address, length)) = address_and_length(request) else {
            return "E01".into();
        };
        let mut bytes = vec![0u8; length.min(MAX_PACKET / 2)];
        let Some(machine) = self.target.machine() else {
            return "E01".into();
        };
        match machine.read_memory(address, &mut bytes) {
            Ok(()) => bytes.iter().map(|byte| format!("{byte:02x}")).collect(),
            Err(_) => "E14".into(),
        }
    }

    fn write_memory(&mut self, request: &str) -> &'static str {
        let Some((range, data)) = request.split_once(':') else {
            return "E01";
        };
        let (Some((address, length)), Some(bytes)) = (address_and_length(range), from_hex(data))
        else {
            return "E01";
        };
        if bytes.len() != length {
            return "E01";
        }
        let Some(machine) = self.target.machine() else {
            return "E01";
        };
        match machine.write_memory(address, &bytes) {
            Ok(()) => "OK",
            // Code is immutable; GDB sets breakpoints with Z packets instead.
            Err(_) => "E14",
        }
    }

    /// `Z0`/`Z1` (set) and `z0`/`z1` (clear): software and hardware breakpoints are the same
    /// here. Watchpoints are not supported.
    fn breakpoint(&mut self, request: &str, set: bool) -> &'static str {
        let mut fields = request.split(',');
        let kind = fields.next();
        let address = fields
            .next()
            .and_then(|text| u64::from_str_radix(text, 16).ok());
        match (kind, address) {
            (Some("0" | "1"), Some(address)) => {
                if set {
                    self.breakpoints.insert(address);
                } else {
                    self.breakpoints.remove(&address);
                }
                "OK"
            }
            _ => "",
        }
    }

    /// The next packet's payload: acknowledges it, skips acks, takes `0x03` as an interrupt
    /// (answered where the target is stopped anyway). `None` when the connection closed.
    fn read_packet(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            let Some(byte) = self.read_byte()? else {
                return Ok(None);
            };
            match byte {
                b'$' => {}
                0x03 => return Ok(Some(b"?".to_vec())),
                _ => continue,
            }
            let mut payload = Vec::new();
            loop {
                let Some(byte) = self.read_byte()? else {
                    return Ok(None);
                };
                if byte == b'#' {
                    break;
                }
                if payload.len() >= MAX_PACKET {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "packet too long",
                    ));
                }
                payload.push(byte);
            }
            let mut checksum = [0u8; 2];
            for digit in &mut checksum {
                *digit = self.read_byte()?.unwrap_or(b'0');
            }
            let expected = u8::from_str_radix(&String::from_utf8_lossy(&checksum), 16).ok();
            if expected == Some(checksum_of(&payload)) {
                self.connection.write_all(b"+")?;
                return Ok(Some(payload));
            }
            self.connection.write_all(b"-")?;
        }
    }

    fn read_byte(&mut self) -> io::Result<Option<u8>> {
        if self.buffered.is_empty() {
            let mut chunk = [0u8; 512];
            let read = self.connection.read(&mut chunk)?;
            if read == 0 {
                return Ok(None);
            }
            self.buffered.extend(chunk[..read].iter().rev());
        }
        Ok(self.buffered.pop())
    }

    fn send(&mut self, payload: &str) -> io::Result<()> {
        let packet = format!("${payload}#{:02x}", checksum_of(payload.as_bytes()));
        self.connection.write_all(packet.as_bytes())?;
        self.connection.flush()
    }
}

/// The stop reply for a target that ended.
fn ending(stepped: Stepped) -> String {
    match stepped {
        Stepped::Exited(status) => format!("W{status:02x}"),
        Stepped::Killed(signal) => format!("X{signal:02x}"),
        Stepped::Running => format!("S{SIGTRAP:02x}"),
    }
}

fn checksum_of(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |sum, byte| sum.wrapping_add(*byte))
}

/// An integer register or pc as the XLEN-bit number GDB expects.
fn hex_word(xlen: Xlen, value: u64) -> String {
    hex_le(xlen.unsigned(value), xlen.word_size())
}

/// Up to 8 little-endian bytes as a number (GDB may send fewer than a register holds).
fn le_value(bytes: &[u8]) -> u64 {
    let mut padded = [0u8; 8];
    let length = bytes.len().min(8);
    padded[..length].copy_from_slice(&bytes[..length]);
    u64::from_le_bytes(padded)
}

fn hex_le(value: u64, bytes: usize) -> String {
    value.to_le_bytes()[..bytes]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}

fn address_and_length(text: &str) -> Option<(u64, usize)> {
    let (address, length) = text.split_once(',')?;
    Some((
        u64::from_str_radix(address, 16).ok()?,
        usize::from_str_radix(length, 16).ok()?,
    ))
}

/// `qXfer:features:read:target.xml:offset,length`.
fn target_xml_chunk(xlen: Xlen, request: &str) -> String {
    let xml = target_xml(xlen);
    let Some((offset, length)) = address_and_length(request) else {
        return "E01".into();
    };
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    if offset >= xml.len() {
        return "l".into();
    }
    let end = offset.saturating_add(length).min(xml.len());
    let marker = if end == xml.len() { 'l' } else { 'm' };
    format!("{marker}{}", &xml[offset..end])
}

/// RV32 or RV64 with the F and D extensions, in GDB's register numbering.
fn target_xml(xlen: Xlen) -> String {
    let bits = 8 * xlen.word_size();
    let mut xml = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">\
         <target version=\"1.0\"><architecture>riscv:rv{bits}</architecture>\
         <feature name=\"org.gnu.gdb.riscv.cpu\">"
    );
    for index in 0..32 {
        let kind = match index {
            1 => "code_ptr",
            2 | 3 | 8 => "data_ptr",
            _ => "int",
        };
        xml.push_str(&format!(
            "<reg name=\"x{index}\" bitsize=\"{bits}\" type=\"{kind}\" regnum=\"{index}\"/>"
        ));
    }
    xml.push_str(&format!(
        "<reg name=\"pc\" bitsize=\"{bits}\" type=\"code_ptr\" regnum=\"{PC_REGNUM}\"/></feature>\
         <feature name=\"org.gnu.gdb.riscv.fpu\">"
    ));
    for index in 0..32 {
        let regnum = FIRST_FP_REGNUM + index;
        xml.push_str(&format!(
            "<reg name=\"f{index}\" bitsize=\"64\" type=\"ieee_double\" regnum=\"{regnum}\"/>"
        ));
    }
    xml.push_str(&format!(
        "<reg name=\"fflags\" bitsize=\"32\" type=\"int\" regnum=\"{FFLAGS_REGNUM}\"/>\
         <reg name=\"frm\" bitsize=\"32\" type=\"int\" regnum=\"{FRM_REGNUM}\"/>\
         <reg name=\"fcsr\" bitsize=\"32\" type=\"int\" regnum=\"{FCSR_REGNUM}\"/>\
         </feature></target>"
    ));
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_framed_and_checksummed() {
        assert_eq!(checksum_of(b"OK"), 0x9a);
        assert_eq!(hex_le(0x1122, 4), "22110000");
        assert_eq!(from_hex("0aff"), Some(vec![0x0a, 0xff]));
        assert_eq!(from_hex("0g"), None);
        assert_eq!(address_and_length("1000,20"), Some((0x1000, 0x20)));
        let xml = target_xml(Xlen::Rv64);
        assert!(xml.contains("regnum=\"68\""));
        assert_eq!(
            target_xml_chunk(Xlen::Rv64, &format!("{:x},10", xml.len())),
            "l"
        );
        assert!(target_xml_chunk(Xlen::Rv64, "0,10").starts_with('m'));
        let rv32 = target_xml(Xlen::Rv32);
        assert!(rv32.contains("riscv:rv32") && rv32.contains("name=\"pc\" bitsize=\"32\""));
        // RV32 registers hold sign extensions; GDB sees the 32-bit number.
        assert_eq!(hex_word(Xlen::Rv32, 0xffff_ffff_8000_0000), "00000080");
        assert_eq!(
            Xlen::Rv32.register(le_value(&[0, 0, 0, 0x80])),
            0xffff_ffff_8000_0000
        );
    }
}
