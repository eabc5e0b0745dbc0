//! The defined functions of an executable's symbol table (`.symtab`), by name, so a host can
//! call a tenant's function by its name.
//!
//! The symbol table is optional (a stripped executable has none) and nothing in it is needed
//! to run the program, so [`function_symbols`] reads it on its own, after [`super::parse`]
//! accepted the file. Every offset and size comes from the file and is checked; memory use is
//! bounded by the file's size.

use alloc::vec::Vec;
use core::fmt;

use super::{read_u16, read_u32, Layout};

// sh_type values.
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;

// st_info: type in the low nibble, binding in the high one.
const STT_FUNC: u8 = 2;
const STT_TLS: u8 = 6;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const SHN_UNDEF: u16 = 0;

/// A defined function with external linkage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunctionSymbol<'elf> {
    pub name: &'elf str,
    pub address: u64,
    /// Weak definitions lose to a global one of the same name.
    pub weak: bool,
}

/// Why the symbol table could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SymbolTableError {
    /// `e_shentsize` is not the section header size of the file's class.
    SectionHeaderEntrySize { found: u16, expected: u16 },
    /// Section header `index` does not fit in the file.
    SectionHeaderOutsideFile { index: u16 },
    /// The symbol table's `sh_entsize` is not the symbol size of the file's class.
    SymbolEntrySize { found: u64, expected: u64 },
    /// Section `index`'s bytes are not all in the file.
    SectionOutsideFile { index: u32 },
    /// The symbol table's `sh_link` does not name a string table.
    NoStringTable { link: u32 },
    /// Symbol `index`'s name does not start inside the string table or has no NUL there.
    NameOutsideStringTable { index: usize },
}

impl fmt::Display for SymbolTableError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SymbolTableError::SectionHeaderEntrySize { found, expected } => write!(
                out,
                "section headers are {found} bytes, expected {expected}"
            ),
            SymbolTableError::SectionHeaderOutsideFile { index } => {
                write!(out, "section header {index} lies outside the file")
            }
            SymbolTableError::SymbolEntrySize { found, expected } => write!(
                out,
                "symbol table entries are {found} bytes, expected {expected}"
            ),
            SymbolTableError::SectionOutsideFile { index } => {
                write!(out, "section {index} lies outside the file")
            }
            SymbolTableError::NoStringTable { link } => {
                write!(
                    out,
                    "the symbol table's string table (section {link}) is not one"
                )
            }
            SymbolTableError::NameOutsideStringTable { index } => {
                write!(out, "the name of symbol {index} is not in the string table")
            }
        }
    }
}

impl core::error::Error for SymbolTableError {}

/// One section header's fields used here.
struct Section {
    section_type: u32,
    offset: u64,
    size: u64,
    link: u32,
    entry_size: u64,
}

impl Section {
    /// The section's bytes, if they all lie in the file.
    fn bytes<'elf>(&self, file: &'elf [u8], index: u32) -> Result<&'elf [u8], SymbolTableError> {
        let outside = SymbolTableError::SectionOutsideFile { index };
        let start = usize::try_from(self.offset).map_err(|_| outside.clone())?;
        let size = usize::try_from(self.size).map_err(|_| outside.clone())?;
        let end = start.checked_add(size).ok_or(outside.clone())?;
        file.get(start..end).ok_or(outside)
    }
}

/// Reads section header `index` of the table at `table_offset`.
fn section(
    file: &[u8],
    layout: &Layout,
    table_offset: usize,
    index: u16,
) -> Result<Section, SymbolTableError> {
    let outside = SymbolTableError::SectionHeaderOutsideFile { index };
    let base = usize::from(index)
        .checked_mul(layout.section_header_size)
        .and_then(|offset| offset.checked_add(table_offset))
        .ok_or(outside.clone())?;
    let header = base
        .checked_add(layout.section_header_size)
        .and_then(|end| file.get(base..end))
        .ok_or(outside.clone())?;
    // The slice is exactly one header long, so every field read succeeds.
    let field_u32 = |offset| read_u32(header, offset).ok_or(outside.clone());
    let field_word = |offset| layout.read_word(header, offset).ok_or(outside.clone());
    Ok(Section {
        section_type: field_u32(layout.sh_type)?,
        offset: field_word(layout.sh_offset)?,
        size: field_word(layout.sh_size)?,
        link: field_u32(layout.sh_link)?,
        entry_size: field_word(layout.sh_entsize)?,
    })
}

/// Which symbols [`read_symbols`] keeps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Selection {
    /// Global and weak functions: what a host may call by name.
    ExternalFunctions,
    /// Every function, local ones (C `static`, compiler-made parts) too: names for profiles.
    AllFunctions,
    /// Global and weak thread-local variables; their value is the offset in the TLS block.
    ExternalThreadLocals,
}

/// The defined global and weak functions (`STT_FUNC`) of `file`'s symbol table, in table
/// order; `Ok(None)` when the file has no symbol table (it was stripped). `file` must be an
/// ELF file that [`super::parse`] accepted.
pub fn function_symbols(file: &[u8]) -> Result<Option<Vec<FunctionSymbol<'_>>>, SymbolTableError> {
    read_symbols(file, Selection::ExternalFunctions)
}

/// Every defined function of `file`'s symbol table, local ones included (`weak` is false for
/// them), in table order; as [`function_symbols`] otherwise.
pub fn all_function_symbols(
    file: &[u8],
) -> Result<Option<Vec<FunctionSymbol<'_>>>, SymbolTableError> {
    read_symbols(file, Selection::AllFunctions)
}

/// The defined global and weak thread-local variables (`STT_TLS`) of `file`'s symbol table;
/// `address` is each one's offset in the program's TLS block.
pub fn thread_local_symbols(
    file: &[u8],
) -> Result<Option<Vec<FunctionSymbol<'_>>>, SymbolTableError> {
    read_symbols(file, Selection::ExternalThreadLocals)
}

fn read_symbols(
    file: &[u8],
    selection: Selection,
) -> Result<Option<Vec<FunctionSymbol<'_>>>, SymbolTableError> {
    let layout = Layout::of_file(file);
    let (Some(table_offset), Some(entry_size), Some(count)) = (
        layout.read_word(file, layout.e_shoff),
        read_u16(file, layout.e_shentsize),
        read_u16(file, layout.e_shnum),
    ) else {
        return Ok(None);
    };
    // e_shnum 0 means no sections (or more than 65279, counted elsewhere: no real tenant).
    if table_offset == 0 || count == 0 {
        return Ok(None);
    }
    if usize::from(entry_size) != layout.section_header_size {
        return Err(SymbolTableError::SectionHeaderEntrySize {
            found: entry_size,
            expected: u16::try_from(layout.section_header_size).unwrap_or(u16::MAX),
        });
    }
    let table_offset = usize::try_from(table_offset)
        .map_err(|_| SymbolTableError::SectionHeaderOutsideFile { index: 0 })?;
    let mut symbol_table = None;
    for index in 0..count {
        let header = section(file, layout, table_offset, index)?;
        if header.section_type == SHT_SYMTAB {
            symbol_table = Some((u32::from(index), header));
            break;
        }
    }
    let Some((symbol_index, symbol_table)) = symbol_table else {
        return Ok(None);
    };
    if symbol_table.entry_size != layout.symbol_size as u64 {
        return Err(SymbolTableError::SymbolEntrySize {
            found: symbol_table.entry_size,
            expected: layout.symbol_size as u64,
        });
    }
    let no_strings = SymbolTableError::NoStringTable {
        link: symbol_table.link,
    };
    let string_index = u16::try_from(symbol_table.link).map_err(|_| no_strings.clone())?;
    if string_index >= count {
        return Err(no_strings);
    }
    let string_table = section(file, layout, table_offset, string_index)?;
    if string_table.section_type != SHT_STRTAB {
        return Err(no_strings);
    }
    let strings = string_table.bytes(file, symbol_table.link)?;
    let symbols = symbol_table.bytes(file, symbol_index)?;

    let mut functions = Vec::new();
    for (index, symbol) in symbols.chunks_exact(layout.symbol_size).enumerate() {
        let (Some(name_offset), Some(&info), Some(section_index), Some(address)) = (
            read_u32(symbol, layout.st_name),
            symbol.get(layout.st_info),
            read_u16(symbol, layout.st_shndx),
            layout.read_word(symbol, layout.st_value),
        ) else {
            continue;
        };
        let binding = info >> 4;
        let symbol_type = info & 0xf;
        let is_external = binding == STB_GLOBAL || binding == STB_WEAK;
        let wanted = match selection {
            Selection::ExternalFunctions => symbol_type == STT_FUNC && is_external,
            Selection::AllFunctions => symbol_type == STT_FUNC,
            Selection::ExternalThreadLocals => symbol_type == STT_TLS && is_external,
        };
        if !wanted || section_index == SHN_UNDEF {
            continue;
        }
        let name = usize::try_from(name_offset)
            .ok()
            .and_then(|start| strings.get(start..))
            .and_then(|rest| Some(&rest[..rest.iter().position(|&byte| byte == 0)?]))
            .ok_or(SymbolTableError::NameOutsideStringTable { index })?;
        // Names that are not UTF-8 cannot be asked for by a host; they are left out.
        let Ok(name) = core::str::from_utf8(name) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        functions.push(FunctionSymbol {
            name,
            address,
            weak: binding == STB_WEAK,
        });
    }
    Ok(Some(functions))
}

#[cfg(test)]
#[expect(
    clippy::cast_possible_truncation,
    reason = "the test files are a few hundred bytes"
)]
mod tests {
    use super::*;
    use crate::elf::{EI_CLASS, ELF32, ELF64, ELFCLASS32, ELFCLASS64};
    use crate::xlen::Xlen;
    use alloc::vec;

    /// A file with just enough for `function_symbols`: a file header with the class, e_shoff,
    /// e_shentsize and e_shnum, then the section headers [null, .symtab, .strtab], then the
    /// tables, laid out for one ELF class.
    struct SymbolFile {
        layout: &'static Layout,
        section_header_size: u16,
        symbol_size: u64,
        string_link: u32,
        strings: Vec<u8>,
        /// (name offset, st_info, st_shndx, st_value)
        symbols: Vec<(u32, u8, u16, u64)>,
    }

    const GLOBAL_FUNCTION: u8 = (STB_GLOBAL << 4) | STT_FUNC;
    const WEAK_FUNCTION: u8 = (STB_WEAK << 4) | STT_FUNC;
    const LOCAL_FUNCTION: u8 = STT_FUNC;
    const GLOBAL_OBJECT: u8 = (STB_GLOBAL << 4) | 1;
    const HEADERS_AT: usize = 64;

    impl SymbolFile {
        fn valid(layout: &'static Layout) -> SymbolFile {
            SymbolFile {
                layout,
                section_header_size: layout.section_header_size as u16,
                symbol_size: layout.symbol_size as u64,
                string_link: 2,
                strings: b"\0greet\0helper\0table\0local\0weakling\0".to_vec(),
                symbols: vec![
                    (0, 0, 0, 0),
                    (1, GLOBAL_FUNCTION, 1, 0x10100),
                    (7, GLOBAL_FUNCTION, SHN_UNDEF, 0),
                    (14, GLOBAL_OBJECT, 1, 0x20000),
                    (20, LOCAL_FUNCTION, 1, 0x10200),
                    (26, WEAK_FUNCTION, 1, 0x10300),
                ],
            }
        }

        fn bytes(&self) -> Vec<u8> {
            let layout = self.layout;
            let symbols_at = HEADERS_AT + 3 * layout.section_header_size;
            let symbols_size = self.symbols.len() * layout.symbol_size;
            let strings_at = symbols_at + symbols_size;
            let mut file = vec![0u8; strings_at + self.strings.len()];
            file[EI_CLASS] = match layout.xlen {
                Xlen::Rv32 => ELFCLASS32,
                Xlen::Rv64 => ELFCLASS64,
            };
            put_word(&mut file, layout, layout.e_shoff, HEADERS_AT as u64);
            put(
                &mut file,
                layout.e_shentsize,
                &self.section_header_size.to_le_bytes(),
            );
            put(&mut file, layout.e_shnum, &3u16.to_le_bytes());
            let mut header =
                |index: usize, kind: u32, at: usize, size: usize, link: u32, entry: u64| {
                    let base = HEADERS_AT + index * layout.section_header_size;
                    put(&mut file, base + layout.sh_type, &kind.to_le_bytes());
                    put_word(&mut file, layout, base + layout.sh_offset, at as u64);
                    put_word(&mut file, layout, base + layout.sh_size, size as u64);
                    put(&mut file, base + layout.sh_link, &link.to_le_bytes());
                    put_word(&mut file, layout, base + layout.sh_entsize, entry);
                };
            header(
                1,
                SHT_SYMTAB,
                symbols_at,
                symbols_size,
                self.string_link,
                self.symbol_size,
            );
            header(2, SHT_STRTAB, strings_at, self.strings.len(), 0, 0);
            for (index, &(name, info, section, value)) in self.symbols.iter().enumerate() {
                let base = symbols_at + index * layout.symbol_size;
                put(&mut file, base + layout.st_name, &name.to_le_bytes());
                file[base + layout.st_info] = info;
                put(&mut file, base + layout.st_shndx, &section.to_le_bytes());
                put_word(&mut file, layout, base + layout.st_value, value);
            }
            put(&mut file, strings_at, &self.strings);
            file
        }
    }

    fn put(bytes: &mut [u8], offset: usize, value: &[u8]) {
        bytes[offset..offset + value.len()].copy_from_slice(value);
    }

    fn put_word(bytes: &mut [u8], layout: &Layout, offset: usize, value: u64) {
        put(bytes, offset, &value.to_le_bytes()[..layout.word]);
    }

    const LAYOUTS: [&Layout; 2] = [&ELF32, &ELF64];

    #[test]
    fn defined_global_and_weak_functions_are_listed() {
        for layout in LAYOUTS {
            let file = SymbolFile::valid(layout).bytes();
            let functions = function_symbols(&file).unwrap().unwrap();
            assert_eq!(
                functions,
                [
                    FunctionSymbol {
                        name: "greet",
                        address: 0x10100,
                        weak: false
                    },
                    FunctionSymbol {
                        name: "weakling",
                        address: 0x10300,
                        weak: true
                    },
                ],
                "{:?}",
                layout.xlen
            );
        }
    }

    #[test]
    fn local_functions_and_thread_locals_are_listed_on_request() {
        let mut file = SymbolFile::valid(&ELF64);
        file.symbols
            .push((14, (STB_GLOBAL << 4) | STT_TLS, 1, 0x30));
        let file = file.bytes();
        fn names<'a>(symbols: Vec<FunctionSymbol<'a>>) -> Vec<(&'a str, u64)> {
            symbols
                .iter()
                .map(|symbol| (symbol.name, symbol.address))
                .collect()
        }
        assert_eq!(
            names(all_function_symbols(&file).unwrap().unwrap()),
            [
                ("greet", 0x10100),
                ("local", 0x10200),
                ("weakling", 0x10300)
            ]
        );
        assert_eq!(
            names(thread_local_symbols(&file).unwrap().unwrap()),
            [("table", 0x30)]
        );
    }

    #[test]
    fn a_file_without_section_headers_has_no_symbol_table() {
        for layout in LAYOUTS {
            let mut file = SymbolFile::valid(layout).bytes();
            put(&mut file, layout.e_shnum, &0u16.to_le_bytes());
            assert_eq!(function_symbols(&file), Ok(None));
            assert_eq!(function_symbols(&file[..10]), Ok(None));
        }
    }

    #[test]
    fn malformed_tables_are_errors_never_panics() {
        for layout in LAYOUTS {
            let mut wrong_header_size = SymbolFile::valid(layout);
            wrong_header_size.section_header_size = 44;
            assert_eq!(
                function_symbols(&wrong_header_size.bytes()),
                Err(SymbolTableError::SectionHeaderEntrySize {
                    found: 44,
                    expected: layout.section_header_size as u16
                })
            );

            let mut wrong_symbol_size = SymbolFile::valid(layout);
            wrong_symbol_size.symbol_size = 20;
            assert_eq!(
                function_symbols(&wrong_symbol_size.bytes()),
                Err(SymbolTableError::SymbolEntrySize {
                    found: 20,
                    expected: layout.symbol_size as u64
                })
            );

            let mut bad_link = SymbolFile::valid(layout);
            bad_link.string_link = 7;
            assert_eq!(
                function_symbols(&bad_link.bytes()),
                Err(SymbolTableError::NoStringTable { link: 7 })
            );
            bad_link.string_link = 1;
            assert_eq!(
                function_symbols(&bad_link.bytes()),
                Err(SymbolTableError::NoStringTable { link: 1 })
            );

            let mut wild_name = SymbolFile::valid(layout);
            wild_name.symbols[1].0 = 5000;
            assert_eq!(
                function_symbols(&wild_name.bytes()),
                Err(SymbolTableError::NameOutsideStringTable { index: 1 })
            );

            // A name running to the end of the string table without its NUL.
            let mut unterminated = SymbolFile::valid(layout);
            unterminated.strings.pop();
            assert_eq!(
                function_symbols(&unterminated.bytes()),
                Err(SymbolTableError::NameOutsideStringTable { index: 5 })
            );

            // Section headers cut off by the file's end, and tables pointing past it.
            let file = SymbolFile::valid(layout).bytes();
            assert_eq!(
                function_symbols(&file[..100]),
                Err(SymbolTableError::SectionHeaderOutsideFile { index: 0 })
            );
            let mut huge_table = file.clone();
            let symbol_table_size = HEADERS_AT + layout.section_header_size + layout.sh_size;
            put_word(&mut huge_table, layout, symbol_table_size, u64::MAX);
            assert_eq!(
                function_symbols(&huge_table),
                Err(SymbolTableError::SectionOutsideFile { index: 1 })
            );
            let mut far_offset = file;
            put_word(&mut far_offset, layout, layout.e_shoff, u64::MAX);
            assert!(function_symbols(&far_offset).is_err());
        }
    }

    #[test]
    fn every_truncation_of_a_valid_file_is_handled() {
        for layout in LAYOUTS {
            let file = SymbolFile::valid(layout).bytes();
            for length in 0..file.len() {
                // Any answer is fine; the loop proves none of them panics.
                let _ = function_symbols(&file[..length]);
            }
        }
    }
}
