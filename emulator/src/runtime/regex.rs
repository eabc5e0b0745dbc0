//! Regular expressions for tenants (`regex_*` calls, libvmod-riscv's `Regex`), compiled and
//! run host-side with the `regex` crate, whose matching time is linear in the input. Each
//! request may scan a bounded number of bytes ([`MAX_SCANNED_BYTES`]), so a tenant cannot buy
//! unbounded host work with one instruction; patterns and their compiled size are bounded too.

use std::sync::Arc;

use regex::{Regex, RegexBuilder};

/// Longest pattern, in bytes.
pub const MAX_PATTERN_BYTES: usize = 4 << 10;
/// Most regular expressions a tenant may hold (its template's and a request's together).
pub const MAX_REGEXES: usize = 64;
/// Bytes one request may match or substitute over, in all.
pub const MAX_SCANNED_BYTES: usize = 64 << 20;
/// Compiled size of one expression.
const MAX_COMPILED_BYTES: usize = 1 << 20;

/// Why a regex call gave no result; the guest receives the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegexError {
    /// Not a valid pattern, or no expression with that index.
    Invalid,
    /// Past a size limit or the request's allowance.
    TooBig,
}

/// The expressions a template leaves its forks; `None` when it compiled none, so its forks
/// share no count to write.
pub type RegexTemplate = Option<Arc<Vec<Option<Regex>>>>;

/// The expressions one machine can use: the template's (shared by every fork) and its own.
#[derive(Clone, Debug, Default)]
pub struct RegexTable {
    template: RegexTemplate,
    own: Vec<Option<Regex>>,
    scanned: usize,
}

impl RegexTable {
    /// A fork's table: the template's expressions, nothing of its own yet.
    pub fn from_template(template: &RegexTemplate) -> RegexTable {
        RegexTable {
            template: template.clone(),
            own: Vec::new(),
            scanned: 0,
        }
    }

    /// Everything this table holds, as a template for forks (at the end of `main()`).
    pub fn into_template(self) -> RegexTemplate {
        let mut all = self.template().to_vec();
        all.extend(self.own);
        (!all.is_empty()).then(|| Arc::new(all))
    }

    fn template(&self) -> &[Option<Regex>] {
        self.template.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Compiles `pattern`; returns its index.
    pub fn compile(&mut self, pattern: &str) -> Result<u64, RegexError> {
        if pattern.len() > MAX_PATTERN_BYTES
            || self.template().len() + self.own.len() >= MAX_REGEXES
        {
            return Err(RegexError::TooBig);
        }
        self.charge(pattern.len())?;
        let regex = RegexBuilder::new(pattern)
            .size_limit(MAX_COMPILED_BYTES)
            .dfa_size_limit(MAX_COMPILED_BYTES)
            .build()
            .map_err(|error| match error {
                regex::Error::CompiledTooBig(_) => RegexError::TooBig,
                _ => RegexError::Invalid,
            })?;
        self.own.push(Some(regex));
        Ok((self.template().len() + self.own.len() - 1) as u64)
    }

    /// Forgets an expression this machine compiled (the template's stay).
    pub fn free(&mut self, index: u64) -> Result<(), RegexError> {
        let own_index = usize::try_from(index)
            .ok()
            .and_then(|index| index.checked_sub(self.template().len()))
            .ok_or(RegexError::Invalid)?;
        let slot = self.own.get_mut(own_index).ok_or(RegexError::Invalid)?;
        slot.take().map(|_| ()).ok_or(RegexError::Invalid)
    }

    /// Whether expression `index` matches anywhere in `subject`.
    pub fn is_match(&mut self, index: u64, subject: &str) -> Result<bool, RegexError> {
        self.charge(subject.len())?;
        Ok(self.get(index)?.is_match(subject))
    }

    /// `text` with the first (or every) match replaced by `replacement`, in Varnish's
    /// `regsub` syntax: `\0` is the whole match, `\1`…`\9` the groups.
    pub fn substitute(
        &mut self,
        index: u64,
        text: &str,
        replacement: &str,
        all: bool,
    ) -> Result<String, RegexError> {
        self.charge(text.len() + replacement.len())?;
        let regex = self.get(index)?;
        let replacement = regsub_to_regex_syntax(replacement);
        let result = if all {
            regex.replace_all(text, replacement.as_str())
        } else {
            regex.replace(text, replacement.as_str())
        };
        Ok(result.into_owned())
    }

    fn get(&self, index: u64) -> Result<&Regex, RegexError> {
        let index = usize::try_from(index).map_err(|_| RegexError::Invalid)?;
        let slot = match index.checked_sub(self.template().len()) {
            None => self.template().get(index),
            Some(own_index) => self.own.get(own_index),
        };
        slot.and_then(Option::as_ref).ok_or(RegexError::Invalid)
    }

    fn charge(&mut self, bytes: usize) -> Result<(), RegexError> {
        let scanned = self.scanned.saturating_add(bytes);
        if scanned > MAX_SCANNED_BYTES {
            return Err(RegexError::TooBig);
        }
        self.scanned = scanned;
        Ok(())
    }
}

/// Varnish's `\N` group references as the regex crate's `${N}`; a literal `$` stays literal.
fn regsub_to_regex_syntax(replacement: &str) -> String {
    let mut out = String::with_capacity(replacement.len() + 8);
    let mut chars = replacement.chars().peekable();
    while let Some(character) = chars.next() {
        match character {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek() {
                Some(digit @ '0'..='9') => {
                    out.push_str("${");
                    out.push(*digit);
                    out.push('}');
                    chars.next();
                }
                Some('\\') => {
                    out.push('\\');
                    chars.next();
                }
                _ => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_matches_and_substitutes_like_varnish_regsub() {
        let mut table = RegexTable::default();
        let index = table.compile("^/(\\w+)/(\\d+)$").unwrap();
        assert_eq!(table.is_match(index, "/item/42"), Ok(true));
        assert_eq!(table.is_match(index, "/item/x"), Ok(false));
        assert_eq!(
            table.substitute(index, "/item/42", "/\\2?kind=\\1&cost=$5", false),
            Ok("/42?kind=item&cost=$5".into())
        );
        let vowels = table.compile("[aeiou]").unwrap();
        assert_eq!(
            table.substitute(vowels, "banana", "_", true),
            Ok("b_n_n_".into())
        );
        assert_eq!(
            table.substitute(vowels, "banana", "_", false),
            Ok("b_nana".into())
        );
    }

    #[test]
    fn bad_patterns_indices_and_sizes_are_errors_not_panics() {
        let mut table = RegexTable::default();
        assert_eq!(table.compile("(unclosed"), Err(RegexError::Invalid));
        assert_eq!(table.is_match(7, "x"), Err(RegexError::Invalid));
        assert_eq!(table.free(0), Err(RegexError::Invalid));
        assert_eq!(
            table.compile(&"a".repeat(MAX_PATTERN_BYTES + 1)),
            Err(RegexError::TooBig)
        );
        // A pattern whose compiled form is huge.
        assert_eq!(table.compile("\\w{1000}{1000}"), Err(RegexError::TooBig));
        let index = table.compile("x").unwrap();
        table.free(index).unwrap();
        assert_eq!(table.is_match(index, "x"), Err(RegexError::Invalid));
        for _ in 1..MAX_REGEXES {
            table.compile("y").unwrap();
        }
        assert_eq!(table.compile("z"), Err(RegexError::TooBig));
    }

    #[test]
    fn a_request_scans_a_bounded_number_of_bytes() {
        let mut table = RegexTable::default();
        let index = table.compile("needle").unwrap();
        let haystack = "h".repeat(MAX_SCANNED_BYTES / 4);
        for _ in 0..3 {
            assert_eq!(table.is_match(index, &haystack), Ok(false));
        }
        assert_eq!(table.is_match(index, &haystack), Err(RegexError::TooBig));
    }

    #[test]
    fn forks_share_the_template_and_add_their_own() {
        let mut boot = RegexTable::default();
        let first = boot.compile("riscv").unwrap();
        let template = boot.into_template();
        let mut fork = RegexTable::from_template(&template);
        assert_eq!(fork.is_match(first, "hello riscv"), Ok(true));
        let own = fork.compile("other").unwrap();
        assert_eq!(own, 1);
        assert_eq!(fork.free(first), Err(RegexError::Invalid));
        let mut other_fork = RegexTable::from_template(&template);
        assert_eq!(other_fork.is_match(own, "other"), Err(RegexError::Invalid));
    }

    #[test]
    fn a_template_without_expressions_shares_nothing_and_its_forks_start_at_zero() {
        let template = RegexTable::default().into_template();
        assert!(template.is_none());
        let mut fork = RegexTable::from_template(&template);
        assert_eq!(fork.is_match(0, "x"), Err(RegexError::Invalid));
        assert_eq!(fork.compile("x"), Ok(0));
        assert_eq!(fork.is_match(0, "x"), Ok(true));
    }
}
