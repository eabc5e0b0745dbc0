//! Printing a profile (`--profile` of `rvedge run` and `rvedge request`): guest instructions
//! and pages first written per function, most instructions first.

use std::io::Write;

use rvedge::profile::ProfileReport;

/// Rows printed; the rest are summed in one line.
const MAX_ROWS: usize = 40;
/// Longer demangled names are cut (C++ template arguments can run to hundreds of characters).
const MAX_NAME_CHARS: usize = 100;

/// The source-level name of a symbol: Rust and C++ names demangled (C++ without parameter
/// lists), cut to [`MAX_NAME_CHARS`]; other names as they are.
fn readable_name(symbol: &str) -> String {
    let name = if let Ok(rust) = rustc_demangle::try_demangle(symbol) {
        format!("{rust:#}")
    } else if let Some(cpp) = cpp_demangle::Symbol::new(symbol).ok().and_then(|cpp| {
        let options = cpp_demangle::DemangleOptions::new()
            .no_params()
            .no_return_type();
        cpp.demangle_with_options(&options).ok()
    }) {
        cpp
    } else {
        symbol.to_string()
    };
    if name.chars().count() <= MAX_NAME_CHARS {
        return name;
    }
    let mut cut: String = name.chars().take(MAX_NAME_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Writes `report` as a table to stderr, each line starting with `prefix`.
pub fn print_profile(prefix: &str, report: &ProfileReport) {
    let total = report.instructions();
    let mut out = std::io::stderr().lock();
    let _ = writeln!(
        out,
        "{prefix}profile: {total} guest instructions, {} pages first written, by function:",
        report.pages()
    );
    let _ = writeln!(
        out,
        "{prefix}{:>14} {:>7} {:>6}  function",
        "instructions", "%", "pages"
    );
    let share = |instructions: u64| {
        if total == 0 {
            0.0
        } else {
            instructions as f64 * 100.0 / total as f64
        }
    };
    for cost in report.functions.iter().take(MAX_ROWS) {
        let host = if cost.host { " (host)" } else { "" };
        let _ = writeln!(
            out,
            "{prefix}{:>14} {:>6.1}% {:>6}  {}{host}",
            cost.instructions,
            share(cost.instructions),
            cost.pages,
            readable_name(&cost.name)
        );
    }
    let rest = report.functions.get(MAX_ROWS..).unwrap_or_default();
    if !rest.is_empty() {
        let instructions: u64 = rest.iter().map(|cost| cost.instructions).sum();
        let pages: u64 = rest.iter().map(|cost| cost.pages).sum();
        let _ = writeln!(
            out,
            "{prefix}{instructions:>14} {:>6.1}% {pages:>6}  ({} more functions)",
            share(instructions),
            rest.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::readable_name;

    #[test]
    fn names_are_demangled_and_cut() {
        assert_eq!(readable_name("memcpy"), "memcpy");
        assert_eq!(readable_name("_ZL7on_recvN3api7RequestE"), "on_recv");
        assert_eq!(
            readable_name("_ZN4core3fmt5write17h0123456789abcdefE"),
            "core::fmt::write"
        );
        let long = "x".repeat(300);
        assert_eq!(readable_name(&long).chars().count(), 100);
    }
}
