//! Host-side helpers: JSON, XML and hashing done by the host at native speed, so a tenant
//! does not pay for emulated parsing or hashing.

use crate::{abi, arg, call_with_output, check, into_string, Error};

/// Checks that `doc` is well-formed JSON; the error is the host's message, naming the line
/// and column of the first problem.
pub fn json_validate(doc: &[u8]) -> Result<(), String> {
    validate(abi::JSON_VALIDATE, doc)
}

/// The value at the RFC 6901 `pointer` (`/items/0/name`; `""` is the whole document) in the
/// JSON `doc`: a string value unquoted, any other value as compact JSON text, `None` if
/// there is no such value. [`Error::Invalid`] if `doc` is not JSON or `pointer` is malformed.
pub fn json_query(doc: &[u8], pointer: &str) -> Result<Option<String>, Error> {
    query(abi::JSON_QUERY, doc, pointer)
}

/// Checks that `doc` is well-formed XML; the error is the host's message, naming the line
/// and column of the first problem.
pub fn xml_validate(doc: &[u8]) -> Result<(), String> {
    validate(abi::XML_VALIDATE, doc)
}

/// The text of the first element at `path` (`/`-separated names from the root, e.g.
/// `/order/item`, optionally ending in `/@attribute` for an attribute's value) in the XML
/// `doc`, `None` if there is none. [`Error::Invalid`] if `doc` is not XML or `path` is
/// malformed.
pub fn xml_query(doc: &[u8], path: &str) -> Result<Option<String>, Error> {
    query(abi::XML_QUERY, doc, path)
}

/// The SHA-256 digest of `data`.
///
/// # Panics
///
/// If the host refuses the call (e.g. `data` is too large for it).
#[track_caller]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut digest = [0u8; 32];
    // SAFETY: `data` is readable for its length and `digest` writable for the 32 bytes the
    // call writes, both for the duration of the call.
    let result = unsafe {
        abi::ecall(
            abi::SHA256,
            [
                arg(data.as_ptr()),
                data.len() as u64,
                arg(digest.as_mut_ptr()),
                0,
                0,
                0,
            ],
        )
    };
    if let Err(error) = check(result) {
        panic!("rvedge-tenant: sha256 failed: {error}");
    }
    digest
}

/// The HMAC-SHA256 of `message` under `key`.
///
/// # Panics
///
/// If the host refuses the call (e.g. an input is too large for it).
#[track_caller]
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = [0u8; 32];
    // SAFETY: `key` and `message` are readable for their lengths and `mac` writable for the
    // 32 bytes the call writes, all for the duration of the call.
    let result = unsafe {
        abi::ecall(
            abi::HMAC_SHA256,
            [
                arg(key.as_ptr()),
                key.len() as u64,
                arg(message.as_ptr()),
                message.len() as u64,
                arg(mac.as_mut_ptr()),
                0,
            ],
        )
    };
    if let Err(error) = check(result) {
        panic!("rvedge-tenant: hmac_sha256 failed: {error}");
    }
    mac
}

/// `json_validate` / `xml_validate`: an empty message means valid.
fn validate(number: u64, doc: &[u8]) -> Result<(), String> {
    // SAFETY: `doc` is a live borrow, readable for its length during the call.
    let result = unsafe { call_with_output(number, &[arg(doc.as_ptr()), doc.len() as u64]) };
    match result {
        Ok(message) if message.is_empty() => Ok(()),
        Ok(message) => Err(into_string(message)),
        // The call itself failed (say, the document is too large for the host).
        Err(error) => Err(format!("cannot validate: {error}")),
    }
}

/// `json_query` / `xml_query`: `-ENOENT` is "no such value", not an error.
fn query(number: u64, doc: &[u8], path: &str) -> Result<Option<String>, Error> {
    // SAFETY: `doc` and `path` are live borrows, readable for their lengths during the call.
    let result = unsafe {
        call_with_output(
            number,
            &[
                arg(doc.as_ptr()),
                doc.len() as u64,
                arg(path.as_ptr()),
                path.len() as u64,
            ],
        )
    };
    match result {
        Ok(value) => Ok(Some(into_string(value))),
        Err(Error::NotFound) => Ok(None),
        Err(error) => Err(error),
    }
}
