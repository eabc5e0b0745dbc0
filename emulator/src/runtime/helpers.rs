//! Host-side JSON, XML and crypto work for tenants, so they need not pay for parsing and
//! hashing in emulated code. Pure functions over bytes, linear in their input; the ABI glue (and
//! what a call costs) is in `calls.rs`.

use std::borrow::Cow;
use std::collections::HashSet;

use hmac::{Hmac, Mac};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// Why a query found nothing usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// The document parsed, but nothing is at that path.
    NotFound,
    /// The document or the path is malformed.
    Invalid,
    /// The value found is larger than a query returns ([`MAX_JSON_VALUE_BYTES`]).
    TooBig,
}

/// Largest JSON value (as text in the document) `json_query` returns; only that value is ever
/// built in memory, the rest of the document is checked and skipped.
pub const MAX_JSON_VALUE_BYTES: usize = 1 << 20;

/// Deepest nesting of XML elements validate and query accept.
pub const MAX_XML_DEPTH: usize = 256;

/// Most attributes one XML element may have.
pub const MAX_XML_ATTRIBUTES: usize = 256;

/// `Ok` if `document` is one JSON value, else a message with line and column.
pub fn json_validate(document: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(document)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// The value at RFC 6901 `pointer`: strings unquoted, anything else as compact JSON. The
/// document is read once, without building it: only the value found is.
pub fn json_query(document: &[u8], pointer: &str) -> Result<String, QueryError> {
    if !(pointer.is_empty() || pointer.starts_with('/')) {
        return Err(QueryError::Invalid);
    }
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut deserializer = serde_json::Deserializer::from_slice(document);
    let found = PointerSeed { tokens: &tokens }
        .deserialize(&mut deserializer)
        .and_then(|found| deserializer.end().map(|()| found))
        .map_err(|_| QueryError::Invalid)?;
    let raw = found.ok_or(QueryError::NotFound)?;
    if raw.get().len() > MAX_JSON_VALUE_BYTES {
        return Err(QueryError::TooBig);
    }
    match serde_json::from_str(raw.get()).map_err(|_| QueryError::Invalid)? {
        serde_json::Value::String(text) => Ok(text),
        other => Ok(other.to_string()),
    }
}

/// Finds the value at `tokens` below the value being read, skipping everything else. Where an
/// object has a key twice the last one counts, as in a parsed `serde_json::Value`.
struct PointerSeed<'p> {
    tokens: &'p [String],
}

impl<'de> DeserializeSeed<'de> for PointerSeed<'_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        if self.tokens.is_empty() {
            return <&RawValue>::deserialize(deserializer).map(Some);
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PointerSeed<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        out.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (wanted, rest) = (&self.tokens[0], &self.tokens[1..]);
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == *wanted {
                found = map.next_value_seed(PointerSeed { tokens: rest })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let token = &self.tokens[0];
        // RFC 6901 indices: digits, no leading zero.
        let wanted = if token.starts_with('+') || (token.starts_with('0') && token.len() > 1) {
            None
        } else {
            token.parse::<usize>().ok()
        };
        let mut found = None;
        let mut index = 0;
        loop {
            if Some(index) == wanted {
                match seq.next_element_seed(PointerSeed {
                    tokens: &self.tokens[1..],
                })? {
                    Some(value) => found = value,
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            index += 1;
        }
        Ok(found)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// `Ok` if `document` is well-formed XML with one root element, else a message with line and
/// column.
pub fn xml_validate(document: &[u8]) -> Result<(), String> {
    walk_xml(document, &mut |_| {})
}

/// The text of the first element at `path` (`/root/child`) that has text, or the value of an
/// attribute of the first element there that has it (`/root/child/@name`); an element with no
/// text has the empty text.
pub fn xml_query(document: &[u8], path: &str) -> Result<String, QueryError> {
    let steps: Vec<&str> = path
        .strip_prefix('/')
        .ok_or(QueryError::Invalid)?
        .split('/')
        .collect();
    let (elements, attribute) = match steps.split_last() {
        Some((last, parents)) if last.starts_with('@') => (parents, Some(&last[1..])),
        _ => (&steps[..], None),
    };
    if elements.is_empty() || elements.iter().any(|step| step.is_empty()) {
        return Err(QueryError::Invalid);
    }
    // The open elements, and how many of them (from the root) are the path's first steps: the
    // stack is at the path when both are its length. Kept as counts, so each event is O(1).
    let mut depth = 0;
    let mut matched = 0;
    let mut element_seen = false;
    let mut found: Option<String> = None;
    walk_xml(document, &mut |event| match event {
        XmlEvent::Open { name, attributes } => {
            depth += 1;
            if matched + 1 == depth && elements.get(matched) == Some(&name) {
                matched += 1;
            }
            if matched != elements.len() || depth != matched {
                return;
            }
            element_seen = true;
            if let (Some(wanted), None) = (attribute, &found) {
                found = attributes
                    .iter()
                    .find(|(key, _)| *key == wanted)
                    .map(|(_, value)| value.to_string());
            }
        }
        XmlEvent::Close => {
            if matched == depth {
                matched -= 1;
            }
            depth -= 1;
        }
        XmlEvent::Text(text) => {
            if attribute.is_none()
                && found.is_none()
                && matched == elements.len()
                && depth == matched
            {
                found = Some(text.to_string());
            }
        }
    })
    .map_err(|_| QueryError::Invalid)?;
    match found {
        Some(value) => Ok(value),
        None if attribute.is_none() && element_seen => Ok(String::new()),
        None => Err(QueryError::NotFound),
    }
}

/// What [`walk_xml`] shows, in document order.
enum XmlEvent<'a> {
    /// An element opened, with its attributes (names and unescaped values).
    Open {
        name: &'a str,
        attributes: &'a [(&'a str, Cow<'a, str>)],
    },
    /// The innermost open element closed.
    Close,
    /// Text directly inside the innermost open element, whole up to the next tag.
    Text(&'a str),
}

/// Reads the whole document once, checking well-formedness (with at most [`MAX_XML_DEPTH`]
/// levels and [`MAX_XML_ATTRIBUTES`] attributes per element), and shows it to `visit`. Work is
/// linear in the document's size.
fn walk_xml(document: &[u8], visit: &mut dyn FnMut(XmlEvent<'_>)) -> Result<(), String> {
    let text = core::str::from_utf8(document).map_err(|error| {
        let (line, column) = line_and_column(document, error.valid_up_to());
        format!("invalid UTF-8 at line {line} column {column}")
    })?;
    let mut reader = Reader::from_str(text);
    // The open elements' names, for the message about those left open.
    let mut open: Vec<String> = Vec::new();
    // Text arrives in pieces (entity references are events of their own); it is shown to
    // `visit` whole, when the next tag starts.
    let mut pending_text = String::new();
    let mut roots = 0;
    // quick-xml's errors have their own position; the walk's are where the reader stands.
    let fail_at = |position: u64, message: String| {
        let (line, column) =
            line_and_column(document, usize::try_from(position).unwrap_or(usize::MAX));
        format!("{message} at line {line} column {column}")
    };
    let fail = |reader: &Reader<&[u8]>, message: String| fail_at(reader.error_position(), message);
    let refuse =
        |reader: &Reader<&[u8]>, message: String| fail_at(reader.buffer_position(), message);
    loop {
        let event = reader
            .read_event()
            .map_err(|error| fail(&reader, error.to_string()))?;
        if matches!(
            event,
            Event::Start(_) | Event::Empty(_) | Event::End(_) | Event::Eof
        ) && !pending_text.is_empty()
        {
            let text = core::mem::take(&mut pending_text);
            if open.is_empty() {
                if !text.trim().is_empty() {
                    return Err(refuse(&reader, "text outside the root element".into()));
                }
            } else {
                visit(XmlEvent::Text(&text));
            }
        }
        match event {
            Event::Start(ref element) | Event::Empty(ref element) => {
                if open.is_empty() {
                    roots += 1;
                    if roots > 1 {
                        return Err(refuse(&reader, "more than one root element".into()));
                    }
                }
                if open.len() == MAX_XML_DEPTH {
                    return Err(refuse(
                        &reader,
                        format!("elements nested deeper than {MAX_XML_DEPTH} levels"),
                    ));
                }
                let name = core::str::from_utf8(element.name().into_inner())
                    .map_err(|error| fail(&reader, error.to_string()))?;
                // quick-xml's own duplicate check compares each attribute with every earlier
                // one; a set is linear.
                let mut attribute_names = HashSet::new();
                let mut attributes = Vec::new();
                for attribute in element.attributes().with_checks(false) {
                    let attribute = attribute.map_err(|error| fail(&reader, error.to_string()))?;
                    if attributes.len() == MAX_XML_ATTRIBUTES {
                        return Err(refuse(
                            &reader,
                            format!("more than {MAX_XML_ATTRIBUTES} attributes on <{name}>"),
                        ));
                    }
                    let key = core::str::from_utf8(attribute.key.into_inner())
                        .map_err(|error| fail(&reader, error.to_string()))?;
                    if !attribute_names.insert(key) {
                        return Err(refuse(&reader, format!("duplicate attribute {key}")));
                    }
                    let value = attribute
                        .unescape_value()
                        .map_err(|error| fail(&reader, error.to_string()))?;
                    attributes.push((key, value));
                }
                visit(XmlEvent::Open {
                    name,
                    attributes: &attributes,
                });
                if matches!(event, Event::Empty(_)) {
                    visit(XmlEvent::Close);
                } else {
                    open.push(name.to_string());
                }
            }
            Event::End(_) => {
                visit(XmlEvent::Close);
                open.pop();
            }
            Event::Text(ref content) => {
                let content = content
                    .decode()
                    .map_err(|error| fail(&reader, error.to_string()))?;
                pending_text.push_str(&content);
            }
            Event::GeneralRef(ref reference) => {
                let character = match reference
                    .resolve_char_ref()
                    .map_err(|error| fail(&reader, error.to_string()))?
                {
                    Some(character) => character,
                    None => match reference.as_ref() {
                        b"amp" => '&',
                        b"lt" => '<',
                        b"gt" => '>',
                        b"quot" => '"',
                        b"apos" => '\'',
                        other => {
                            let name = String::from_utf8_lossy(other);
                            return Err(fail(&reader, format!("unknown entity &{name};")));
                        }
                    },
                };
                pending_text.push(character);
            }
            Event::CData(ref content) => {
                pending_text.push_str(&String::from_utf8_lossy(content.as_ref()));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !open.is_empty() {
        return Err(refuse(
            &reader,
            format!("element <{}> is not closed", open.join("><")),
        ));
    }
    if roots == 0 {
        return Err(refuse(&reader, "no root element".into()));
    }
    Ok(())
}

/// 1-based line and column of byte `offset`.
fn line_and_column(document: &[u8], offset: usize) -> (usize, usize) {
    let before = &document[..offset.min(document.len())];
    let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |newline| newline + 1);
    (line, before.len() - line_start + 1)
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_validation_names_the_position() {
        assert_eq!(json_validate(br#"{"a": [1, 2]}"#), Ok(()));
        let error = json_validate(b"{\"a\":\n  [1, }").unwrap_err();
        assert!(error.contains("line 2 column"), "{error}");
        assert!(json_validate(b"").is_err());
        assert!(
            json_validate(b"1 2").is_err(),
            "trailing values are invalid"
        );
    }

    #[test]
    fn json_query_follows_pointers() {
        let document = br#"{"name": "ada", "tags": ["x", {"n": 1.5}], "ok": true}"#;
        assert_eq!(json_query(document, "/name").unwrap(), "ada");
        assert_eq!(json_query(document, "/tags/1").unwrap(), r#"{"n":1.5}"#);
        assert_eq!(json_query(document, "/tags/1/n").unwrap(), "1.5");
        assert_eq!(json_query(document, "/ok").unwrap(), "true");
        assert_eq!(json_query(document, "/missing"), Err(QueryError::NotFound));
        assert_eq!(json_query(document, "name"), Err(QueryError::Invalid));
        assert_eq!(json_query(b"{", "/a"), Err(QueryError::Invalid));
        assert!(json_query(document, "").unwrap().starts_with('{'));
    }

    #[test]
    fn xml_validation_rejects_what_is_not_well_formed() {
        assert_eq!(
            xml_validate(b"<?xml version=\"1.0\"?>\n<a><b/>text</a>\n"),
            Ok(())
        );
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"",
            b"<a/><b/>",
            b"text<a/>",
            b"<a x='1' x='2'/>",
            b"<a>&bogus;</a>",
        ] {
            let error = xml_validate(bad).unwrap_err();
            assert!(error.contains("line 1 column"), "{error}");
        }
        let error = xml_validate(b"<a>\n  <b>\n</a>").unwrap_err();
        assert!(error.contains("line 3"), "{error}");
    }

    #[test]
    fn xml_query_finds_text_and_attributes() {
        let document = br#"<order id="7"><customer>Ada &amp; Co</customer><item sku="X-1"/><item sku="X-2">two</item><empty></empty></order>"#;
        assert_eq!(xml_query(document, "/order/customer").unwrap(), "Ada & Co");
        assert_eq!(xml_query(document, "/order/@id").unwrap(), "7");
        assert_eq!(xml_query(document, "/order/item/@sku").unwrap(), "X-1");
        assert_eq!(xml_query(document, "/order/empty").unwrap(), "");
        assert_eq!(
            xml_query(document, "/order/nothing"),
            Err(QueryError::NotFound)
        );
        assert_eq!(
            xml_query(document, "/order/@nothing"),
            Err(QueryError::NotFound)
        );
        assert_eq!(xml_query(document, "order"), Err(QueryError::Invalid));
        assert_eq!(xml_query(b"<a>", "/a"), Err(QueryError::Invalid));
    }

    /// Documents of up to 16 MiB (the largest a tenant can pass) built to be slow: a million
    /// levels of nesting, 100 000 attributes on one element, a million elements. Refused at the
    /// caps, or read once; the times are printed, not asserted.
    #[test]
    fn hostile_xml_is_refused_at_the_caps_and_large_xml_is_read_once() {
        let levels = 1 << 20;
        let deep = format!("{}{}", "<a>".repeat(levels), "</a>".repeat(levels));
        let mut attributes = String::from("<a");
        for index in 0..100_000 {
            attributes.push_str(&format!(" n{index}=\"v\""));
        }
        attributes.push_str("/>");
        let mut wide = String::from("<r>");
        while wide.len() < (16 << 20) - 64 {
            wide.push_str("<e k=\"1\">text &amp; more</e>");
        }
        wide.push_str("<last k=\"end\">found</last></r>");
        let timed = |what: &str, document: &str, check: &dyn Fn(&str)| {
            let started = std::time::Instant::now();
            check(document);
            println!(
                "{what}: {} bytes in {:?}",
                document.len(),
                started.elapsed()
            );
        };
        timed("deep", &deep, &|document| {
            let error = xml_validate(document.as_bytes()).unwrap_err();
            assert!(error.contains("nested deeper than 256"), "{error}");
            assert_eq!(
                xml_query(document.as_bytes(), "/a/a"),
                Err(QueryError::Invalid)
            );
        });
        timed("attributes", &attributes, &|document| {
            let error = xml_validate(document.as_bytes()).unwrap_err();
            assert!(error.contains("more than 256 attributes on <a>"), "{error}");
        });
        timed("wide", &wide, &|document| {
            assert_eq!(xml_validate(document.as_bytes()), Ok(()));
            assert_eq!(xml_query(document.as_bytes(), "/r/last").unwrap(), "found");
            assert_eq!(xml_query(document.as_bytes(), "/r/last/@k").unwrap(), "end");
            assert_eq!(
                xml_query(document.as_bytes(), "/r/e").unwrap(),
                "text & more"
            );
        });
        // Within the caps, all is well.
        let nested = format!("{}{}", "<a>".repeat(256), "</a>".repeat(256));
        assert_eq!(xml_validate(nested.as_bytes()), Ok(()));
        let error = xml_validate(b"<a b='1' c='2' b='3'/>").unwrap_err();
        assert!(error.contains("duplicate attribute b"), "{error}");
    }

    #[test]
    fn json_query_returns_values_up_to_the_cap_from_any_document() {
        let items = vec!["0"; 3 << 20].join(",");
        let document = format!(r#"{{"big": [{items}], "small": {{"x": [1, "two"]}}}}"#);
        let started = std::time::Instant::now();
        assert_eq!(
            json_query(document.as_bytes(), "/big"),
            Err(QueryError::TooBig)
        );
        assert_eq!(
            json_query(document.as_bytes(), "/small/x/1").unwrap(),
            "two"
        );
        assert_eq!(
            json_query(document.as_bytes(), "/big/3000000").unwrap(),
            "0"
        );
        println!(
            "{} bytes queried 3 times in {:?}",
            document.len(),
            started.elapsed()
        );
        // A repeated key: the last one counts, as in a parsed document.
        assert_eq!(
            json_query(br#"{"a": 1, "a": {"b": 2}}"#, "/a/b").unwrap(),
            "2"
        );
        assert_eq!(
            json_query(br#"{"a": {"b": 2}, "a": 1}"#, "/a/b"),
            Err(QueryError::NotFound)
        );
        // RFC 6901 escapes and indices.
        let document = br#"{"a/b": {"m~n": [10, 20]}}"#;
        assert_eq!(json_query(document, "/a~1b/m~0n/1").unwrap(), "20");
        assert_eq!(
            json_query(document, "/a~1b/m~0n/01"),
            Err(QueryError::NotFound)
        );
        assert_eq!(
            json_query(document, "/a~1b/m~0n/2"),
            Err(QueryError::NotFound)
        );
        assert_eq!(json_query(b"[1] x", ""), Err(QueryError::Invalid));
        assert_eq!(json_query(b"1.50", "").unwrap(), "1.5");
    }

    #[test]
    fn digests_match_published_vectors() {
        // FIPS 180-2 "abc" and RFC 4231 test case 2.
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}
