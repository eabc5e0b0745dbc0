//! The proxy-wasm ABI's encoding of a header map (`proxy_get_header_map_pairs`,
//! `proxy_send_local_response`): a u32 count, a u32 name size and a u32 value size per pair,
//! then each name and each value followed by a NUL; little-endian. Decoding checks every size
//! against the bytes, so a malformed map is a `None`, never a panic.

use crate::stream::PackedHeaders;

/// Header bytes as text, in their own allocation where they are UTF-8; bytes that are not
/// become U+FFFD (a client's odd bytes must not fail the request, nor trap the VM).
pub fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// The map `bytes` encode, or `None` if the bytes do not hold what their sizes say.
pub fn decode_pairs(mut bytes: Vec<u8>) -> Option<PackedHeaders> {
    if bytes.is_empty() {
        return Some(PackedHeaders::default());
    }
    let word = |at: usize| -> Option<usize> {
        let raw = bytes.get(at..at.checked_add(4)?)?;
        usize::try_from(u32::from_le_bytes(raw.try_into().ok()?)).ok()
    };
    let count = word(0)?;
    let table_end = count.checked_mul(8)?.checked_add(4)?;
    let mut data_at = table_end;
    // Each pair takes at least 10 bytes (two sizes, two NULs): no allocation past the input.
    let mut spans = Vec::with_capacity(count.min(bytes.len() / 10));
    for index in 0..count {
        let name_start = data_at;
        let name_end = name_start.checked_add(word(4 + index * 8)?)?;
        let value_start = name_end.checked_add(1)?;
        let value_end = value_start.checked_add(word(8 + index * 8)?)?;
        if value_end > bytes.len() {
            return None;
        }
        spans.push([name_start, name_end, value_start, value_end]);
        data_at = value_end.checked_add(1)?;
    }
    // The size table and the terminators become NULs (whatever the host put there), so the
    // bytes are the text of the map as they are, every name and value starting and ending
    // next to an ASCII character.
    bytes[..table_end].fill(0);
    for &[_, name_end, _, value_end] in &spans {
        for terminator in [name_end, value_end] {
            if let Some(byte) = bytes.get_mut(terminator) {
                *byte = 0;
            }
        }
    }
    match String::from_utf8(bytes) {
        Ok(text) => Some(PackedHeaders::from_spans(text, spans)),
        Err(error) => {
            let bytes = error.as_bytes();
            let mut headers = PackedHeaders::default();
            for [name_start, name_end, value_start, value_end] in spans {
                headers.push(
                    &String::from_utf8_lossy(&bytes[name_start..name_end]),
                    &String::from_utf8_lossy(&bytes[value_start..value_end]),
                );
            }
            Some(headers)
        }
    }
}

/// The encoding of `pairs`.
pub fn encode_pairs(pairs: &[(String, String)]) -> Vec<u8> {
    let size = |length: usize| u32::try_from(length).unwrap_or(u32::MAX).to_le_bytes();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&size(pairs.len()));
    for (name, value) in pairs {
        bytes.extend_from_slice(&size(name.len()));
        bytes.extend_from_slice(&size(value.len()));
    }
    for (name, value) in pairs {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(name, value)| ((*name).into(), (*value).into()))
            .collect()
    }

    fn decoded(bytes: &[u8]) -> Option<Vec<(String, String)>> {
        let headers = decode_pairs(bytes.to_vec())?;
        Some(
            headers
                .iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        )
    }

    #[test]
    fn pairs_round_trip() {
        let headers = pairs(&[(":status", "200"), ("x-empty", ""), ("x-b", "two words")]);
        assert_eq!(decoded(&encode_pairs(&headers)), Some(headers));
        assert_eq!(decoded(&encode_pairs(&[])), Some(Vec::new()));
        assert_eq!(decoded(b""), Some(Vec::new()));
    }

    #[test]
    fn malformed_maps_are_none_and_odd_bytes_are_replaced() {
        let encoded = encode_pairs(&pairs(&[("name", "value")]));
        for cut in 1..encoded.len() - 1 {
            assert_eq!(decoded(&encoded[..cut]), None, "cut at {cut}");
        }
        // A count far beyond the bytes, and sizes that overflow.
        assert_eq!(decoded(&[0xff, 0xff, 0xff, 0xff, 0, 0]), None);
        let mut huge = encoded.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decoded(&huge), None);
        // Bytes that are not UTF-8 in a name or value.
        let mut odd = encode_pairs(&pairs(&[("ab", "cd")]));
        let data_at = 4 + 8;
        odd[data_at] = 0xff;
        odd[data_at + 3] = 0xfe;
        assert_eq!(decoded(&odd), Some(pairs(&[("\u{fffd}b", "\u{fffd}d")])));
    }

    #[test]
    fn sizes_and_terminators_never_split_a_character() {
        // A size word with bytes >= 0x80 (a 200-byte value) and text that is not ASCII.
        let long = "é".repeat(100);
        let headers = pairs(&[("x-café", &long), ("x-b", "ü")]);
        assert_eq!(decoded(&encode_pairs(&headers)), Some(headers));
        // A host that puts a UTF-8 continuation byte where a name's NUL belongs: "a" and
        // the first byte of "é" as the name would read as one character with it.
        let mut odd = encode_pairs(&pairs(&[("a\u{00}", "x")]));
        let name_at = 4 + 8;
        odd[name_at + 1] = 0xc3;
        odd[name_at + 2] = 0xa9;
        assert_eq!(decoded(&odd), Some(pairs(&[("a\u{fffd}", "x")])));
    }
}
