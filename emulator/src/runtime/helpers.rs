//! Host-side JSON, XML and crypto work for tenants, so they need not pay for parsing and
//! hashing in emulated code. Pure functions over bytes; the ABI glue is in `fork.rs`.

use hmac::{Hmac, Mac};
use quick_xml::events::Event;
use quick_xml::Reader;
use sha2::{Digest, Sha256};

/// Why a query found nothing usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// The document parsed, but nothing is at that path.
    NotFound,
    /// The document or the path is malformed.
    Invalid,
}

/// `Ok` if `document` is one JSON value, else a message with line and column.
pub fn json_validate(document: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(document)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// The value at RFC 6901 `pointer`: strings unquoted, anything else as compact JSON.
pub fn json_query(document: &[u8], pointer: &str) -> Result<String, QueryError> {
    if !(pointer.is_empty() || pointer.starts_with('/')) {
        return Err(QueryError::Invalid);
    }
    let value: serde_json::Value =
        serde_json::from_slice(document).map_err(|_| QueryError::Invalid)?;
    match value.pointer(pointer) {
        None => Err(QueryError::NotFound),
        Some(serde_json::Value::String(text)) => Ok(text.clone()),
        Some(other) => Ok(other.to_string()),
    }
}

/// `Ok` if `document` is well-formed XML with one root element, else a message with line and
/// column.
pub fn xml_validate(document: &[u8]) -> Result<(), String> {
    walk_xml(document, &mut |_, _| {}).map(|_| ())
}

/// The text of the first element at `path` (`/root/child`), or the value of an attribute
/// (`/root/child/@name`).
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
    let mut found: Option<String> = None;
    walk_xml(document, &mut |stack, node| {
        if found.is_some() || stack.len() != elements.len() || stack != elements {
            return;
        }
        match (node, attribute) {
            (XmlNode::Element(attributes), Some(wanted)) => {
                found = attributes
                    .iter()
                    .find(|(name, _)| name == wanted)
                    .map(|(_, value)| value.clone());
            }
            (XmlNode::Text(text), None) => found = Some(text.to_string()),
            (XmlNode::Element(_), None) => {}
            (XmlNode::Text(_), Some(_)) => {}
        }
    })
    .map_err(|_| QueryError::Invalid)?;
    // An element with no text at all still exists: its text is empty.
    match found {
        Some(value) => Ok(value),
        None if attribute.is_none() && xml_has_element(document, elements) => Ok(String::new()),
        None => Err(QueryError::NotFound),
    }
}

fn xml_has_element(document: &[u8], elements: &[&str]) -> bool {
    let mut seen = false;
    let _ = walk_xml(document, &mut |stack, node| {
        seen |= matches!(node, XmlNode::Element(_)) && stack == elements;
    });
    seen
}

enum XmlNode<'a> {
    /// An element opened, with its attributes; the stack ends with its name.
    Element(&'a [(String, String)]),
    /// Text directly inside the element at the top of the stack.
    Text(&'a str),
}

/// Reads the whole document, checking well-formedness, and shows each element and text to
/// `visit` with the path of element names leading to it.
fn walk_xml(document: &[u8], visit: &mut dyn FnMut(&[&str], XmlNode<'_>)) -> Result<(), String> {
    let text = core::str::from_utf8(document).map_err(|error| {
        let (line, column) = line_and_column(document, error.valid_up_to());
        format!("invalid UTF-8 at line {line} column {column}")
    })?;
    let mut reader = Reader::from_str(text);
    let mut names: Vec<String> = Vec::new();
    // Text arrives in pieces (entity references are events of their own); it is shown to
    // `visit` whole, when the next tag starts.
    let mut pending_text = String::new();
    let mut roots = 0;
    let fail = |reader: &Reader<&[u8]>, message: String| {
        let (line, column) = line_and_column(document, reader.error_position() as usize);
        format!("{message} at line {line} column {column}")
    };
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
            if names.is_empty() {
                if !text.trim().is_empty() {
                    return Err(fail(&reader, "text outside the root element".into()));
                }
            } else {
                let stack: Vec<&str> = names.iter().map(String::as_str).collect();
                visit(&stack, XmlNode::Text(&text));
            }
        }
        match event {
            Event::Start(ref element) | Event::Empty(ref element) => {
                if names.is_empty() {
                    roots += 1;
                    if roots > 1 {
                        return Err(fail(&reader, "more than one root element".into()));
                    }
                }
                let name = String::from_utf8_lossy(element.name().as_ref()).into_owned();
                let mut attributes = Vec::new();
                for attribute in element.attributes() {
                    let attribute = attribute.map_err(|error| fail(&reader, error.to_string()))?;
                    let value = attribute
                        .unescape_value()
                        .map_err(|error| fail(&reader, error.to_string()))?;
                    attributes.push((
                        String::from_utf8_lossy(attribute.key.as_ref()).into_owned(),
                        value.into_owned(),
                    ));
                }
                names.push(name);
                let stack: Vec<&str> = names.iter().map(String::as_str).collect();
                visit(&stack, XmlNode::Element(&attributes));
                if matches!(event, Event::Empty(_)) {
                    names.pop();
                }
            }
            Event::End(_) => {
                names.pop();
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
    if !names.is_empty() {
        return Err(fail(
            &reader,
            format!("element <{}> is not closed", names.join("><")),
        ));
    }
    if roots == 0 {
        return Err(fail(&reader, "no root element".into()));
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
