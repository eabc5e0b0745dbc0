//! Source-level views of a tenant program from its DWARF debug information (`gimli`,
//! `addr2line`) and symbol table (`object`): source lines by address and addresses by source
//! line, function names (with inlining), and the values of local variables at a stop. No I/O:
//! it reads an ELF given as bytes and a stopped machine through [`TargetAccess`], so the
//! playground (in wasm) and native tools can share it.

use std::borrow::Cow;
use std::sync::Arc;

use addr2line::Context;
use gimli::{
    AttributeValue, BaseAddresses, CfaRule, DebugFrame, DwAte, EhFrame, EndianArcSlice,
    EvaluationResult, LittleEndian, Location, Reader, SectionId, UnitOffset, UnwindContext,
    UnwindSection, Value, ValueType,
};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use serde::Serialize;

type R = EndianArcSlice<LittleEndian>;

/// A stopped machine, as variables need it: registers by DWARF number (0–31 integer, 32–63
/// floating point) and memory.
pub trait TargetAccess {
    fn register(&self, number: u16) -> Option<u64>;
    /// Fills `buffer` from guest memory at `address`; false if any of it is unmapped.
    fn read_memory(&mut self, address: u64, buffer: &mut [u8]) -> bool;
}

/// A range of addresses that belongs to one source line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LineRange {
    start: u64,
    end: u64,
    file: u32,
    line: u32,
}

/// A source position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceLine {
    pub file: String,
    pub line: u32,
}

/// One function of a call stack at an address: inlined calls are frames of their own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FrameName {
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub inlined: bool,
}

/// A local variable or parameter at a stop, rendered for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Variable {
    pub name: String,
    pub type_name: String,
    /// The value, or why it cannot be shown (`<optimized out>`, `<unreadable>`).
    pub value: String,
    pub parameter: bool,
}

/// A defined function of the symbol table.
#[derive(Clone, Debug)]
struct Symbol {
    address: u64,
    size: u64,
    name: String,
}

/// What the debugger knows about a program beyond its code.
pub struct DebugInfo {
    context: Option<Context<R>>,
    eh_frame: Option<(EhFrame<R>, BaseAddresses)>,
    debug_frame: Option<DebugFrame<R>>,
    /// Sorted by start; ranges do not overlap.
    lines: Vec<LineRange>,
    files: Vec<String>,
    /// Sorted by address.
    symbols: Vec<Symbol>,
}

impl std::fmt::Debug for DebugInfo {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        out.debug_struct("DebugInfo")
            .field("files", &self.files)
            .field("line_ranges", &self.lines.len())
            .field("symbols", &self.symbols.len())
            .finish_non_exhaustive()
    }
}

/// Most a variable's rendering reads and prints, so a huge array or a cyclic structure costs
/// little.
const MAX_VALUE_BYTES: u64 = 4096;
const MAX_RENDERED_CHARS: usize = 240;
const MAX_MEMBERS: usize = 8;
const MAX_DEPTH: usize = 3;
const MAX_STRING_BYTES: usize = 96;

impl DebugInfo {
    /// Nothing known: no symbols, no lines.
    pub fn empty() -> DebugInfo {
        DebugInfo {
            context: None,
            eh_frame: None,
            debug_frame: None,
            lines: Vec::new(),
            files: Vec::new(),
            symbols: Vec::new(),
        }
    }

    /// Reads the symbol table and, when present, the debug information of an ELF executable.
    pub fn new(elf: &[u8]) -> Result<DebugInfo, String> {
        let file = object::File::parse(elf).map_err(|error| format!("not an ELF file: {error}"))?;
        let section = |name: &str| -> Option<(u64, Arc<[u8]>)> {
            let section = file.section_by_name(name)?;
            let data = section.uncompressed_data().ok()?;
            Some((section.address(), Arc::from(&*data)))
        };
        let reader = |name: &str| {
            let data = section(name).map_or_else(|| Arc::from(&[][..]), |(_, data)| data);
            EndianArcSlice::new(data, LittleEndian)
        };
        let mut symbols: Vec<Symbol> = file
            .symbols()
            .filter(|symbol| symbol.kind() == SymbolKind::Text && symbol.address() != 0)
            .filter_map(|symbol| {
                let name = symbol.name().ok()?;
                Some(Symbol {
                    address: symbol.address(),
                    size: symbol.size(),
                    name: demangle(name).into_owned(),
                })
            })
            .collect();
        symbols.sort_by_key(|symbol| (symbol.address, std::cmp::Reverse(symbol.size)));
        symbols.dedup_by_key(|symbol| symbol.address);

        let has_dwarf = file.section_by_name(".debug_info").is_some();
        let context = if has_dwarf {
            let dwarf = gimli::Dwarf::load(|id: SectionId| -> Result<R, gimli::Error> {
                Ok(reader(id.name()))
            })
            .map_err(|error| format!("debug information: {error}"))?;
            Some(
                Context::from_dwarf(dwarf)
                    .map_err(|error| format!("debug information: {error}"))?,
            )
        } else {
            None
        };
        let eh_frame = section(".eh_frame").map(|(address, data)| {
            let mut bases = BaseAddresses::default().set_eh_frame(address);
            if let Some(text) = file.section_by_name(".text") {
                bases = bases.set_text(text.address());
            }
            let mut frame = EhFrame::from(EndianArcSlice::new(data, LittleEndian));
            frame.set_address_size(8);
            (frame, bases)
        });
        let debug_frame = section(".debug_frame").map(|(_, data)| {
            let mut frame = DebugFrame::from(EndianArcSlice::new(data, LittleEndian));
            frame.set_address_size(8);
            frame
        });
        let mut info = DebugInfo {
            context,
            eh_frame,
            debug_frame,
            lines: Vec::new(),
            files: Vec::new(),
            symbols,
        };
        info.read_lines();
        Ok(info)
    }

    fn read_lines(&mut self) {
        let Some(context) = &self.context else {
            return;
        };
        let Ok(ranges) = context.find_location_range(0, u64::MAX) else {
            return;
        };
        let mut files: Vec<String> = Vec::new();
        let mut lines = Vec::new();
        for (start, length, location) in ranges {
            let (Some(file), Some(line)) = (location.file, location.line) else {
                continue;
            };
            if line == 0 || length == 0 {
                continue;
            }
            let index = match files.iter().position(|known| known == file) {
                Some(index) => index,
                None => {
                    files.push(file.to_string());
                    files.len() - 1
                }
            };
            lines.push(LineRange {
                start,
                end: start + length,
                file: index as u32,
                line,
            });
        }
        lines.sort_by_key(|range| range.start);
        self.lines = lines;
        self.files = files;
    }

    /// Whether the program has line information (was built with `-g`).
    pub fn has_lines(&self) -> bool {
        !self.lines.is_empty()
    }

    /// Source files with line information, as the compiler named them.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The index in [`DebugInfo::files`] of the file called `name`: the same path, or one that
    /// ends with `/name`.
    fn file_index(&self, name: &str) -> Option<u32> {
        let suffix = format!("/{}", name.trim_start_matches("./"));
        self.files
            .iter()
            .position(|file| file == name || file.ends_with(&suffix))
            .map(|index| index as u32)
    }

    fn range_at(&self, pc: u64) -> Option<&LineRange> {
        let after = self.lines.partition_point(|range| range.start <= pc);
        let range = self.lines.get(after.checked_sub(1)?)?;
        (pc < range.end).then_some(range)
    }

    /// The source line of the instruction at `pc`.
    pub fn line_at(&self, pc: u64) -> Option<SourceLine> {
        let range = self.range_at(pc)?;
        Some(SourceLine {
            file: self.files[range.file as usize].clone(),
            line: range.line,
        })
    }

    /// The line at `pc` as (file index, line), cheap enough for every stepped instruction.
    pub fn line_key(&self, pc: u64) -> Option<(u32, u32)> {
        self.range_at(pc).map(|range| (range.file, range.line))
    }

    /// Whether `pc` begins a run of instructions of one line (where a line-stepper stops).
    pub fn starts_line(&self, pc: u64) -> bool {
        self.range_at(pc).is_some_and(|range| range.start == pc)
    }

    /// Where a breakpoint on `line` of `file` goes: the first line at or after it that has code
    /// (as debuggers move a breakpoint on a blank line), and the start of each run of that
    /// line's instructions.
    pub fn breakpoint_addresses(&self, file: &str, line: u32) -> Option<(u32, Vec<u64>)> {
        let file = self.file_index(file)?;
        let actual = self
            .lines
            .iter()
            .filter(|range| range.file == file && range.line >= line)
            .map(|range| range.line)
            .min()?;
        let mut addresses: Vec<u64> = self
            .lines
            .iter()
            .filter(|range| range.file == file && range.line == actual)
            .map(|range| range.start)
            .collect();
        addresses.sort_unstable();
        // A run that continues the previous run of the same line is the same statement.
        addresses.dedup();
        Some((actual, addresses))
    }

    /// The function whose symbol covers `pc`, and the offset into it.
    pub fn symbol_at(&self, pc: u64) -> Option<(&str, u64)> {
        let after = self.symbols.partition_point(|symbol| symbol.address <= pc);
        let symbol = self.symbols.get(after.checked_sub(1)?)?;
        let inside = pc - symbol.address < symbol.size.max(1) || symbol.size == 0;
        inside.then(|| (symbol.name.as_str(), pc - symbol.address))
    }

    /// The start address of the function whose symbol covers `pc`.
    pub fn function_start(&self, pc: u64) -> Option<u64> {
        let (_, offset) = self.symbol_at(pc)?;
        Some(pc - offset)
    }

    /// The name of the function that starts at `address`, if one does.
    pub fn symbol_starting_at(&self, address: u64) -> Option<&str> {
        let index = self
            .symbols
            .binary_search_by_key(&address, |symbol| symbol.address)
            .ok()?;
        Some(&self.symbols[index].name)
    }

    /// The functions active at `pc`, innermost first: inlined calls, then the function they
    /// were inlined into. Falls back to the symbol table without debug information.
    pub fn frames_at(&self, pc: u64) -> Vec<FrameName> {
        let mut frames = Vec::new();
        if let Some(context) = &self.context {
            if let Ok(mut iter) = context.find_frames(pc).skip_all_loads() {
                while let Ok(Some(frame)) = iter.next() {
                    let function = frame
                        .function
                        .as_ref()
                        .and_then(|name| name.demangle().ok())
                        .map(|name| name.into_owned());
                    let Some(function) = function else {
                        continue;
                    };
                    frames.push(FrameName {
                        function,
                        file: frame
                            .location
                            .as_ref()
                            .and_then(|location| location.file)
                            .map(str::to_string),
                        line: frame.location.as_ref().and_then(|location| location.line),
                        inlined: false,
                    });
                }
            }
        }
        let count = frames.len();
        for (index, frame) in frames.iter_mut().enumerate() {
            frame.inlined = index + 1 < count;
        }
        if frames.is_empty() {
            if let Some((name, _)) = self.symbol_at(pc) {
                frames.push(FrameName {
                    function: name.to_string(),
                    file: None,
                    line: None,
                    inlined: false,
                });
            }
        }
        frames
    }

    /// The canonical frame address of the frame stopped at `pc`, from the call frame
    /// information (`.eh_frame`, else `.debug_frame`).
    pub fn frame_address(&self, pc: u64, target: &dyn TargetAccess) -> Option<u64> {
        let mut context = UnwindContext::new();
        let rule = if let Some((frame, bases)) = &self.eh_frame {
            frame
                .unwind_info_for_address(bases, &mut context, pc, EhFrame::cie_from_offset)
                .ok()
                .map(|row| row.cfa().clone())
        } else {
            None
        };
        let rule = rule.or_else(|| {
            let frame = self.debug_frame.as_ref()?;
            frame
                .unwind_info_for_address(
                    &BaseAddresses::default(),
                    &mut context,
                    pc,
                    DebugFrame::cie_from_offset,
                )
                .ok()
                .map(|row| row.cfa().clone())
        })?;
        match rule {
            CfaRule::RegisterAndOffset { register, offset } => {
                Some(target.register(register.0)?.wrapping_add(offset as u64))
            }
            CfaRule::Expression(_) => None,
        }
    }

    /// The local variables and parameters in scope at `pc`, innermost scope first.
    pub fn variables_at(&self, pc: u64, target: &mut dyn TargetAccess) -> Vec<Variable> {
        let Some(context) = &self.context else {
            return Vec::new();
        };
        let Some(unit) = context.find_dwarf_and_unit(pc).skip_all_loads() else {
            return Vec::new();
        };
        // The function's own entry (addr2line's outermost frame at pc): scopes are searched
        // only below it.
        let function = context
            .find_frames(pc)
            .skip_all_loads()
            .ok()
            .and_then(|mut frames| {
                let mut outermost = None;
                while let Ok(Some(frame)) = frames.next() {
                    outermost = frame.dw_die_offset.or(outermost);
                }
                outermost
            });
        let Some(function) = function else {
            return Vec::new();
        };
        let mut scopes = Vec::new();
        if collect_scopes(&unit, function, pc, &mut scopes).is_err() {
            return Vec::new();
        }
        let cfa = self.frame_address(pc, target);
        let frame_base = scopes
            .iter()
            .rev()
            .find_map(|scope| scope.frame_base.clone());
        let mut reader = VariableReader {
            unit: &unit,
            pc,
            cfa,
            frame_base: None,
            target,
        };
        reader.frame_base = frame_base.and_then(|expression| {
            let pieces = reader.evaluate(expression).ok()?;
            match pieces.first()?.location {
                Location::Address { address } => Some(address),
                Location::Register { register } => reader.target.register(register.0),
                Location::Value { value } => value.to_u64(u64::MAX).ok(),
                _ => None,
            }
        });
        let mut seen: Vec<String> = Vec::new();
        let mut variables = Vec::new();
        for scope in scopes.iter().rev() {
            for offset in &scope.variables {
                let Some(variable) = reader.variable(*offset) else {
                    continue;
                };
                // An inner declaration hides an outer one of the same name.
                if seen.contains(&variable.name) {
                    continue;
                }
                seen.push(variable.name.clone());
                variables.push(variable);
            }
        }
        variables
    }
}

/// Demangles a C++ or Rust symbol; other names stay as they are.
fn demangle(name: &str) -> Cow<'_, str> {
    addr2line::demangle_auto(Cow::Borrowed(name), None)
}

/// A scope that contains pc: a function, an inlined call or a block, with the variables
/// declared directly in it.
struct Scope {
    frame_base: Option<gimli::Expression<R>>,
    variables: Vec<UnitOffset>,
}

fn contains_pc(
    unit: &gimli::UnitRef<'_, R>,
    entry: &gimli::DebuggingInformationEntry<R>,
    pc: u64,
) -> bool {
    let Ok(mut ranges) = unit.die_ranges(entry) else {
        return false;
    };
    while let Ok(Some(range)) = ranges.next() {
        if range.begin <= pc && pc < range.end {
            return true;
        }
    }
    false
}

/// The chain of scopes from the function at `function` down to the innermost one containing
/// `pc`.
fn collect_scopes(
    unit: &gimli::UnitRef<'_, R>,
    function: UnitOffset,
    pc: u64,
    scopes: &mut Vec<Scope>,
) -> gimli::Result<()> {
    let mut tree = unit.entries_tree(Some(function))?;
    let root = tree.root()?;
    let entry = root.entry();
    scopes.push(Scope {
        frame_base: frame_base(entry),
        variables: Vec::new(),
    });
    descend(unit, root, pc, scopes)
}

fn frame_base(entry: &gimli::DebuggingInformationEntry<R>) -> Option<gimli::Expression<R>> {
    match entry.attr_value(gimli::DW_AT_frame_base) {
        Some(AttributeValue::Exprloc(expression)) => Some(expression),
        _ => None,
    }
}

/// Adds the variables directly in `node` to the last scope, then descends into the child scope
/// that contains `pc`, if any.
fn descend(
    unit: &gimli::UnitRef<'_, R>,
    node: gimli::EntriesTreeNode<'_, '_, R>,
    pc: u64,
    scopes: &mut Vec<Scope>,
) -> gimli::Result<()> {
    let mut inner = None;
    let mut children = node.children();
    while let Some(child) = children.next()? {
        let entry = child.entry();
        match entry.tag() {
            gimli::DW_TAG_variable | gimli::DW_TAG_formal_parameter => {
                if let Some(scope) = scopes.last_mut() {
                    scope.variables.push(entry.offset());
                }
            }
            gimli::DW_TAG_inlined_subroutine
            | gimli::DW_TAG_lexical_block
            | gimli::DW_TAG_try_block
            | gimli::DW_TAG_catch_block
                if inner.is_none() && contains_pc(unit, entry, pc) =>
            {
                inner = Some((entry.offset(), frame_base(entry)));
            }
            _ => {}
        }
    }
    let Some((offset, frame_base)) = inner else {
        return Ok(());
    };
    scopes.push(Scope {
        frame_base,
        variables: Vec::new(),
    });
    let mut tree = unit.entries_tree(Some(offset))?;
    let root = tree.root()?;
    descend(unit, root, pc, scopes)
}

/// Reads variables of one stop.
struct VariableReader<'a, 'unit> {
    unit: &'a gimli::UnitRef<'unit, R>,
    pc: u64,
    cfa: Option<u64>,
    frame_base: Option<u64>,
    target: &'a mut dyn TargetAccess,
}

/// A value's bytes, as far as they could be found.
enum Found {
    Bytes(Vec<u8>),
    /// In memory at this address (so pointers into it and large objects read lazily).
    Memory(u64),
    OptimizedOut,
    Unreadable,
}

impl VariableReader<'_, '_> {
    fn entry(&self, offset: UnitOffset) -> Option<gimli::DebuggingInformationEntry<R>> {
        self.unit.entry(offset).ok()
    }

    /// An attribute of the entry or of the entry it refines (`DW_AT_abstract_origin`,
    /// `DW_AT_specification`): inlined and out-of-line copies keep names and types there.
    fn attr_following_origin(
        &self,
        entry: &gimli::DebuggingInformationEntry<R>,
        name: gimli::DwAt,
    ) -> Option<AttributeValue<R>> {
        let mut current = entry.clone();
        for _ in 0..4 {
            if let Some(value) = current.attr_value(name) {
                return Some(value);
            }
            let origin = current
                .attr_value(gimli::DW_AT_abstract_origin)
                .or_else(|| current.attr_value(gimli::DW_AT_specification));
            match origin {
                Some(AttributeValue::UnitRef(offset)) => current = self.entry(offset)?,
                _ => return None,
            }
        }
        None
    }

    fn name_of(&self, entry: &gimli::DebuggingInformationEntry<R>) -> Option<String> {
        let value = self.attr_following_origin(entry, gimli::DW_AT_name)?;
        let text = self.unit.attr_string(value).ok()?;
        Some(text.to_string_lossy().ok()?.into_owned())
    }

    fn variable(&mut self, offset: UnitOffset) -> Option<Variable> {
        let entry = self.entry(offset)?;
        // `this` of a lambda (`__closure`) and other compiler-made names say nothing.
        if self
            .attr_following_origin(&entry, gimli::DW_AT_artificial)
            .is_some()
        {
            return None;
        }
        let name = self.name_of(&entry)?;
        let type_offset = match self.attr_following_origin(&entry, gimli::DW_AT_type) {
            Some(AttributeValue::UnitRef(offset)) => Some(offset),
            _ => None,
        };
        let type_name = type_offset.map_or_else(|| "?".into(), |offset| self.type_name(offset, 0));
        let found = self.locate(&entry, type_offset);
        let value = match found {
            Found::OptimizedOut => "<optimized out>".into(),
            Found::Unreadable => "<unreadable>".into(),
            found => match type_offset {
                Some(offset) => {
                    let mut text = self.render(offset, &found, 0);
                    truncate(&mut text, MAX_RENDERED_CHARS);
                    text
                }
                None => "?".into(),
            },
        };
        Some(Variable {
            name,
            type_name,
            value,
            parameter: entry.tag() == gimli::DW_TAG_formal_parameter,
        })
    }

    /// Where the variable's value is at pc.
    fn locate(
        &mut self,
        entry: &gimli::DebuggingInformationEntry<R>,
        type_offset: Option<UnitOffset>,
    ) -> Found {
        if let Some(value) = entry.attr_value(gimli::DW_AT_const_value) {
            return match value {
                AttributeValue::Block(bytes) => {
                    Found::Bytes(bytes.to_slice().map(|b| b.to_vec()).unwrap_or_default())
                }
                AttributeValue::Sdata(value) => Found::Bytes(value.to_le_bytes().to_vec()),
                AttributeValue::Udata(value) => Found::Bytes(value.to_le_bytes().to_vec()),
                AttributeValue::Data1(value) => Found::Bytes(vec![value]),
                AttributeValue::Data2(value) => Found::Bytes(value.to_le_bytes().to_vec()),
                AttributeValue::Data4(value) => Found::Bytes(value.to_le_bytes().to_vec()),
                AttributeValue::Data8(value) => Found::Bytes(value.to_le_bytes().to_vec()),
                _ => Found::Unreadable,
            };
        }
        let expression = match entry.attr_value(gimli::DW_AT_location) {
            Some(AttributeValue::Exprloc(expression)) => Some(expression),
            Some(attribute) => self.location_list_entry(attribute),
            None => return Found::OptimizedOut,
        };
        let Some(expression) = expression else {
            return Found::OptimizedOut;
        };
        let size = type_offset.map_or(8, |offset| self.type_size(offset, 0).unwrap_or(8));
        match self.evaluate(expression) {
            Ok(pieces) => self.assemble(&pieces, size),
            Err(_) => Found::Unreadable,
        }
    }

    fn location_list_entry(&self, attribute: AttributeValue<R>) -> Option<gimli::Expression<R>> {
        let mut list = self.unit.attr_locations(attribute).ok()??;
        while let Ok(Some(entry)) = list.next() {
            if entry.range.begin <= self.pc && self.pc < entry.range.end {
                return Some(entry.data);
            }
        }
        None
    }

    fn evaluate(
        &mut self,
        expression: gimli::Expression<R>,
    ) -> gimli::Result<Vec<gimli::Piece<R>>> {
        let mut evaluation = expression.evaluation(self.unit.encoding());
        let mut result = evaluation.evaluate()?;
        // Each step is bounded by the expression's length; this bounds the resumptions.
        for _ in 0..256 {
            result = match result {
                EvaluationResult::Complete => return Ok(evaluation.result()),
                EvaluationResult::RequiresRegister { register, .. } => {
                    let value = self
                        .target
                        .register(register.0)
                        .ok_or(gimli::Error::UnsupportedRegister(register.0 as u64))?;
                    evaluation.resume_with_register(Value::Generic(value))?
                }
                EvaluationResult::RequiresFrameBase => {
                    let base = self.frame_base.ok_or(gimli::Error::UnsupportedEvaluation)?;
                    evaluation.resume_with_frame_base(base)?
                }
                EvaluationResult::RequiresCallFrameCfa => {
                    let cfa = self.cfa.ok_or(gimli::Error::UnsupportedEvaluation)?;
                    evaluation.resume_with_call_frame_cfa(cfa)?
                }
                EvaluationResult::RequiresMemory { address, size, .. } => {
                    let mut bytes = [0u8; 8];
                    let size = usize::from(size).min(8);
                    if !self.target.read_memory(address, &mut bytes[..size]) {
                        return Err(gimli::Error::UnsupportedEvaluation);
                    }
                    evaluation.resume_with_memory(Value::Generic(u64::from_le_bytes(bytes)))?
                }
                EvaluationResult::RequiresRelocatedAddress(address) => {
                    evaluation.resume_with_relocated_address(address)?
                }
                EvaluationResult::RequiresIndexedAddress { index, .. } => {
                    let address = self.unit.address(index)?;
                    evaluation.resume_with_indexed_address(address)?
                }
                EvaluationResult::RequiresBaseType(offset) => {
                    let entry = self.unit.entry(offset)?;
                    let encoding = match entry.attr_value(gimli::DW_AT_encoding) {
                        Some(AttributeValue::Encoding(encoding)) => encoding,
                        _ => return Err(gimli::Error::UnsupportedEvaluation),
                    };
                    let size = entry
                        .attr_value(gimli::DW_AT_byte_size)
                        .and_then(|value| value.udata_value())
                        .unwrap_or(8);
                    let value_type = ValueType::from_encoding(encoding, size)
                        .ok_or(gimli::Error::UnsupportedEvaluation)?;
                    evaluation.resume_with_base_type(value_type)?
                }
                // Entry values, TLS and parameter references need more than one stop shows.
                _ => return Err(gimli::Error::UnsupportedEvaluation),
            };
        }
        Err(gimli::Error::UnsupportedEvaluation)
    }

    /// Puts the pieces of a location together into bytes (or a memory address).
    fn assemble(&mut self, pieces: &[gimli::Piece<R>], size: u64) -> Found {
        if let [piece] = pieces {
            if piece.size_in_bits.is_none() {
                return match &piece.location {
                    Location::Address { address } => Found::Memory(*address),
                    Location::Empty => Found::OptimizedOut,
                    location => self.piece_bytes(location, size.min(8) as usize),
                };
            }
        }
        let mut bytes = Vec::new();
        for piece in pieces {
            let length = piece.size_in_bits.map_or(8, |bits| bits.div_ceil(8)) as usize;
            match &piece.location {
                Location::Empty => return Found::OptimizedOut,
                Location::Address { address } => {
                    let mut buffer = vec![0; length.min(MAX_VALUE_BYTES as usize)];
                    if !self.target.read_memory(*address, &mut buffer) {
                        return Found::Unreadable;
                    }
                    bytes.extend_from_slice(&buffer);
                }
                location => match self.piece_bytes(location, length) {
                    Found::Bytes(piece_bytes) => bytes.extend_from_slice(&piece_bytes),
                    other => return other,
                },
            }
        }
        Found::Bytes(bytes)
    }

    fn piece_bytes(&self, location: &Location<R>, length: usize) -> Found {
        let value = match location {
            Location::Register { register } => match self.target.register(register.0) {
                Some(value) => value,
                None => return Found::Unreadable,
            },
            Location::Value { value } => value_bits(*value),
            Location::Bytes { value } => {
                return Found::Bytes(value.to_slice().map(|b| b.to_vec()).unwrap_or_default())
            }
            _ => return Found::Unreadable,
        };
        let mut bytes = value.to_le_bytes().to_vec();
        bytes.resize(length.max(1), 0);
        Found::Bytes(bytes)
    }

    /// The bytes of a value, reading memory when it lives there.
    fn bytes_of(&mut self, found: &Found, offset: u64, size: u64) -> Option<Vec<u8>> {
        let size = size.min(MAX_VALUE_BYTES) as usize;
        match found {
            Found::Bytes(bytes) => {
                let start = usize::try_from(offset).ok()?;
                let mut slice = bytes.get(start..)?.to_vec();
                slice.resize(size, 0);
                Some(slice)
            }
            Found::Memory(address) => {
                let mut buffer = vec![0; size];
                self.target
                    .read_memory(address.wrapping_add(offset), &mut buffer)
                    .then_some(buffer)
            }
            _ => None,
        }
    }

    /// Follows typedefs and qualifiers to the type that says how to print.
    fn strip(
        &self,
        offset: UnitOffset,
    ) -> Option<(UnitOffset, gimli::DebuggingInformationEntry<R>)> {
        let mut current = offset;
        for _ in 0..16 {
            let entry = self.entry(current)?;
            match entry.tag() {
                gimli::DW_TAG_typedef
                | gimli::DW_TAG_const_type
                | gimli::DW_TAG_volatile_type
                | gimli::DW_TAG_restrict_type
                | gimli::DW_TAG_atomic_type => match entry.attr_value(gimli::DW_AT_type) {
                    Some(AttributeValue::UnitRef(next)) => current = next,
                    _ => return Some((current, entry)),
                },
                _ => return Some((current, entry)),
            }
        }
        None
    }

    fn type_size(&self, offset: UnitOffset, depth: usize) -> Option<u64> {
        if depth > 8 {
            return None;
        }
        let (_, entry) = self.strip(offset)?;
        if let Some(size) = entry
            .attr_value(gimli::DW_AT_byte_size)
            .and_then(|value| value.udata_value())
        {
            return Some(size);
        }
        match entry.tag() {
            gimli::DW_TAG_pointer_type
            | gimli::DW_TAG_reference_type
            | gimli::DW_TAG_rvalue_reference_type => Some(8),
            gimli::DW_TAG_array_type => {
                let element = match entry.attr_value(gimli::DW_AT_type) {
                    Some(AttributeValue::UnitRef(element)) => element,
                    _ => return None,
                };
                Some(self.type_size(element, depth + 1)? * self.array_length(entry.offset())?)
            }
            _ => None,
        }
    }

    fn array_length(&self, offset: UnitOffset) -> Option<u64> {
        let mut tree = self.unit.entries_tree(Some(offset)).ok()?;
        let root = tree.root().ok()?;
        let mut children = root.children();
        while let Ok(Some(child)) = children.next() {
            let entry = child.entry();
            if entry.tag() != gimli::DW_TAG_subrange_type {
                continue;
            }
            if let Some(count) = entry
                .attr_value(gimli::DW_AT_count)
                .and_then(|value| value.udata_value())
            {
                return Some(count);
            }
            if let Some(upper) = entry
                .attr_value(gimli::DW_AT_upper_bound)
                .and_then(|value| value.udata_value())
            {
                return Some(upper + 1);
            }
        }
        None
    }

    fn type_name(&self, offset: UnitOffset, depth: usize) -> String {
        if depth > 6 {
            return "…".into();
        }
        let Some(entry) = self.entry(offset) else {
            return "?".into();
        };
        let target = || match entry.attr_value(gimli::DW_AT_type) {
            Some(AttributeValue::UnitRef(target)) => self.type_name(target, depth + 1),
            _ => "void".into(),
        };
        match entry.tag() {
            gimli::DW_TAG_pointer_type => format!("{} *", target()),
            gimli::DW_TAG_reference_type => format!("{} &", target()),
            gimli::DW_TAG_rvalue_reference_type => format!("{} &&", target()),
            gimli::DW_TAG_const_type => format!("const {}", target()),
            gimli::DW_TAG_volatile_type => format!("volatile {}", target()),
            gimli::DW_TAG_array_type => match self.array_length(offset) {
                Some(length) => format!("{}[{length}]", target()),
                None => format!("{}[]", target()),
            },
            _ => self.name_of(&entry).unwrap_or_else(|| match entry.tag() {
                gimli::DW_TAG_structure_type | gimli::DW_TAG_class_type => "struct {…}".into(),
                gimli::DW_TAG_union_type => "union {…}".into(),
                gimli::DW_TAG_enumeration_type => "enum {…}".into(),
                gimli::DW_TAG_subroutine_type => "function".into(),
                _ => "?".into(),
            }),
        }
    }

    fn members(&self, offset: UnitOffset) -> Vec<(String, u64, UnitOffset)> {
        let mut members = Vec::new();
        let Ok(mut tree) = self.unit.entries_tree(Some(offset)) else {
            return members;
        };
        let Ok(root) = tree.root() else {
            return members;
        };
        let mut children = root.children();
        while let Ok(Some(child)) = children.next() {
            let entry = child.entry();
            let is_member = entry.tag() == gimli::DW_TAG_member
                && entry.attr_value(gimli::DW_AT_external).is_none()
                && entry.attr_value(gimli::DW_AT_declaration).is_none();
            let is_base = entry.tag() == gimli::DW_TAG_inheritance;
            if !is_member && !is_base {
                continue;
            }
            let Some(AttributeValue::UnitRef(member_type)) = entry.attr_value(gimli::DW_AT_type)
            else {
                continue;
            };
            let location = entry
                .attr_value(gimli::DW_AT_data_member_location)
                .and_then(|value| value.udata_value())
                .unwrap_or(0);
            let name = if is_base {
                format!("<{}>", self.type_name(member_type, 0))
            } else {
                self.name_of(entry).unwrap_or_else(|| "<anonymous>".into())
            };
            members.push((name, location, member_type));
        }
        members
    }

    /// Prints the value of type `offset` found at `found` (+ nothing: `found` is the start).
    fn render(&mut self, offset: UnitOffset, found: &Found, depth: usize) -> String {
        self.render_at(offset, found, 0, depth)
    }

    fn render_at(&mut self, offset: UnitOffset, found: &Found, at: u64, depth: usize) -> String {
        let Some((stripped, entry)) = self.strip(offset) else {
            return "?".into();
        };
        let size = self.type_size(stripped, 0).unwrap_or(8);
        match entry.tag() {
            gimli::DW_TAG_base_type => {
                let encoding = match entry.attr_value(gimli::DW_AT_encoding) {
                    Some(AttributeValue::Encoding(encoding)) => encoding,
                    _ => gimli::DW_ATE_unsigned,
                };
                match self.bytes_of(found, at, size) {
                    Some(bytes) => render_base(encoding, &bytes),
                    None => "<unreadable>".into(),
                }
            }
            gimli::DW_TAG_enumeration_type => {
                let Some(bytes) = self.bytes_of(found, at, size) else {
                    return "<unreadable>".into();
                };
                let value = sign_extend(&bytes);
                self.enumerator_name(stripped, value)
                    .unwrap_or_else(|| value.to_string())
            }
            gimli::DW_TAG_pointer_type
            | gimli::DW_TAG_reference_type
            | gimli::DW_TAG_rvalue_reference_type => {
                let Some(bytes) = self.bytes_of(found, at, 8) else {
                    return "<unreadable>".into();
                };
                let address = u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default());
                let pointee = match entry.attr_value(gimli::DW_AT_type) {
                    Some(AttributeValue::UnitRef(pointee)) => Some(pointee),
                    _ => None,
                };
                let mut text = format!("{address:#x}");
                if let Some(pointee) = pointee {
                    if self.is_char(pointee) && address != 0 {
                        if let Some(string) = self.c_string(address) {
                            text.push_str(&format!(" {string:?}"));
                        }
                    } else if entry.tag() != gimli::DW_TAG_pointer_type
                        && depth < MAX_DEPTH
                        && address != 0
                    {
                        let referred = self.render(pointee, &Found::Memory(address), depth + 1);
                        text = format!("@{address:#x}: {referred}");
                    }
                }
                text
            }
            gimli::DW_TAG_structure_type | gimli::DW_TAG_class_type | gimli::DW_TAG_union_type => {
                if let Some(text) = self.render_string(stripped, found, at) {
                    return text;
                }
                if depth >= MAX_DEPTH {
                    return "{…}".into();
                }
                let members = self.members(stripped);
                let mut parts = Vec::new();
                for (name, member_at, member_type) in members.iter().take(MAX_MEMBERS) {
                    let value = self.render_at(*member_type, found, at + member_at, depth + 1);
                    parts.push(format!("{name} = {value}"));
                }
                if members.len() > MAX_MEMBERS {
                    parts.push("…".into());
                }
                format!("{{{}}}", parts.join(", "))
            }
            gimli::DW_TAG_array_type => {
                let Some(AttributeValue::UnitRef(element)) = entry.attr_value(gimli::DW_AT_type)
                else {
                    return "?".into();
                };
                let length = self.array_length(stripped).unwrap_or(0);
                let element_size = self.type_size(element, 0).unwrap_or(1).max(1);
                if self.is_char(element) {
                    if let Some(bytes) =
                        self.bytes_of(found, at, length.min(MAX_STRING_BYTES as u64))
                    {
                        let end = bytes
                            .iter()
                            .position(|&byte| byte == 0)
                            .unwrap_or(bytes.len());
                        return format!("{:?}", String::from_utf8_lossy(&bytes[..end]));
                    }
                }
                let shown = length.min(MAX_MEMBERS as u64);
                let mut parts: Vec<String> = (0..shown)
                    .map(|index| {
                        self.render_at(element, found, at + index * element_size, depth + 1)
                    })
                    .collect();
                if length > shown {
                    parts.push("…".into());
                }
                format!("[{}]", parts.join(", "))
            }
            gimli::DW_TAG_subroutine_type => "function".into(),
            _ => "?".into(),
        }
    }

    /// std::string (libstdc++) and Rust's `&str` as text.
    fn render_string(&mut self, offset: UnitOffset, found: &Found, at: u64) -> Option<String> {
        let entry = self.entry(offset)?;
        let name = self.name_of(&entry)?;
        let members = self.members(offset);
        let field = |wanted: &str| {
            members
                .iter()
                .find(|(name, ..)| name == wanted)
                .map(|(_, at, _)| *at)
        };
        let (pointer_at, length_at) = if name.starts_with("basic_string<char") {
            let dataplus = field("_M_dataplus")?;
            (dataplus, field("_M_string_length")?)
        } else if name == "&str" {
            (field("data_ptr")?, field("length")?)
        } else {
            return None;
        };
        let pointer =
            u64::from_le_bytes(self.bytes_of(found, at + pointer_at, 8)?.try_into().ok()?);
        let length = u64::from_le_bytes(self.bytes_of(found, at + length_at, 8)?.try_into().ok()?);
        let shown = length.min(MAX_STRING_BYTES as u64) as usize;
        let mut bytes = vec![0; shown];
        if !self.target.read_memory(pointer, &mut bytes) {
            return Some(format!("<string at {pointer:#x}, unreadable>"));
        }
        let mut text = format!("{:?}", String::from_utf8_lossy(&bytes));
        if length > shown as u64 {
            text.push_str(&format!(" (+{} bytes)", length - shown as u64));
        }
        Some(text)
    }

    fn is_char(&self, offset: UnitOffset) -> bool {
        let Some((_, entry)) = self.strip(offset) else {
            return false;
        };
        entry.tag() == gimli::DW_TAG_base_type
            && matches!(
                entry.attr_value(gimli::DW_AT_encoding),
                Some(AttributeValue::Encoding(
                    gimli::DW_ATE_signed_char | gimli::DW_ATE_unsigned_char | gimli::DW_ATE_UTF
                ))
            )
            && entry
                .attr_value(gimli::DW_AT_byte_size)
                .and_then(|value| value.udata_value())
                == Some(1)
    }

    fn c_string(&mut self, address: u64) -> Option<String> {
        let mut bytes = Vec::new();
        for index in 0..MAX_STRING_BYTES as u64 {
            let mut byte = [0u8];
            if !self.target.read_memory(address + index, &mut byte) {
                return None;
            }
            if byte[0] == 0 {
                return Some(String::from_utf8_lossy(&bytes).into_owned());
            }
            bytes.push(byte[0]);
        }
        Some(format!("{}…", String::from_utf8_lossy(&bytes)))
    }

    fn enumerator_name(&self, offset: UnitOffset, value: i64) -> Option<String> {
        let mut tree = self.unit.entries_tree(Some(offset)).ok()?;
        let root = tree.root().ok()?;
        let mut children = root.children();
        while let Ok(Some(child)) = children.next() {
            let entry = child.entry();
            let matches = match entry.attr_value(gimli::DW_AT_const_value) {
                Some(AttributeValue::Sdata(constant)) => constant == value,
                Some(other) => other.udata_value() == Some(value as u64),
                None => false,
            };
            if matches {
                return self.name_of(entry);
            }
        }
        None
    }
}

fn value_bits(value: Value) -> u64 {
    match value {
        Value::Generic(bits) | Value::U64(bits) => bits,
        Value::I8(v) => v as u64,
        Value::U8(v) => u64::from(v),
        Value::I16(v) => v as u64,
        Value::U16(v) => u64::from(v),
        Value::I32(v) => v as u64,
        Value::U32(v) => u64::from(v),
        Value::I64(v) => v as u64,
        Value::F32(v) => u64::from(v.to_bits()),
        Value::F64(v) => v.to_bits(),
    }
}

fn sign_extend(bytes: &[u8]) -> i64 {
    let mut buffer = [0u8; 8];
    let length = bytes.len().min(8);
    buffer[..length].copy_from_slice(&bytes[..length]);
    let shift = 64 - 8 * length as u32;
    if length == 0 {
        return 0;
    }
    (i64::from_le_bytes(buffer) << shift) >> shift
}

fn render_base(encoding: DwAte, bytes: &[u8]) -> String {
    let mut buffer = [0u8; 8];
    let length = bytes.len().min(8);
    buffer[..length].copy_from_slice(&bytes[..length]);
    let unsigned = u64::from_le_bytes(buffer);
    match encoding {
        gimli::DW_ATE_boolean => (unsigned != 0).to_string(),
        gimli::DW_ATE_float if length == 4 => f32::from_bits(unsigned as u32).to_string(),
        gimli::DW_ATE_float if length == 8 => f64::from_bits(unsigned).to_string(),
        gimli::DW_ATE_signed => sign_extend(&bytes[..length]).to_string(),
        gimli::DW_ATE_signed_char | gimli::DW_ATE_unsigned_char if length == 1 => {
            let byte = bytes[0];
            if byte.is_ascii_graphic() || byte == b' ' {
                format!("{} '{}'", byte as i8, byte as char)
            } else {
                format!("{}", byte as i8)
            }
        }
        gimli::DW_ATE_UTF => char::from_u32(unsigned as u32).map_or_else(
            || unsigned.to_string(),
            |character| format!("{character:?}"),
        ),
        _ => unsigned.to_string(),
    }
}

fn truncate(text: &mut String, max: usize) {
    if text.chars().count() > max {
        *text = text.chars().take(max).collect::<String>() + "…";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_print_with_their_sign_and_size() {
        assert_eq!(
            render_base(gimli::DW_ATE_signed, &[0xff, 0xff, 0xff, 0xff]),
            "-1"
        );
        assert_eq!(
            render_base(gimli::DW_ATE_unsigned, &[0xff, 0xff, 0xff, 0xff]),
            "4294967295"
        );
        assert_eq!(render_base(gimli::DW_ATE_boolean, &[1]), "true");
        assert_eq!(render_base(gimli::DW_ATE_signed_char, b"A"), "65 'A'");
        assert_eq!(
            render_base(gimli::DW_ATE_float, &1.5f64.to_le_bytes()),
            "1.5"
        );
    }

    #[test]
    fn bytes_that_are_not_an_elf_are_refused() {
        assert!(DebugInfo::new(b"not an elf").is_err());
    }
}
