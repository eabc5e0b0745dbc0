//! The proxy-wasm ABI's encoding of a header map (`proxy_get_header_map_pairs`,
//! `proxy_send_local_response`): a u32 count, a u32 name size and a u32 value size per pair,
//! then each name and each value followed by a NUL; little-endian. Decoding checks every size
//! against the bytes, so a malformed map is a `None`, never a panic.

/// Header bytes as text; bytes that are not UTF-8 become U+FFFD (a client's odd bytes must
/// not fail the request, nor trap the VM).
pub fn text(bytes: &[u8]) -> String {
    // `from_utf8` checks ASCII a word at a time; the lossy decoder walks byte by byte, which
    // was most of decoding a header map.
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The pairs `bytes` encode, or `None` if the bytes do not hold what their sizes say.
pub fn decode_pairs(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let word = |at: usize| -> Option<usize> {
        let raw = bytes.get(at..at.checked_add(4)?)?;
        usize::try_from(u32::from_le_bytes(raw.try_into().ok()?)).ok()
    };
    let count = word(0)?;
    let mut data_at = count.checked_mul(8)?.checked_add(4)?;
    // Each pair takes at least 10 bytes (two sizes, two NULs): no allocation past the input.
    let mut pairs = Vec::with_capacity(count.min(bytes.len() / 10));
    for index in 0..count {
        let name_size = word(4 + index * 8)?;
        let value_size = word(8 + index * 8)?;
        let name = bytes.get(data_at..data_at.checked_add(name_size)?)?;
        data_at = data_at.checked_add(name_size)?.checked_add(1)?;
        let value = bytes.get(data_at..data_at.checked_add(value_size)?)?;
        data_at = data_at.checked_add(value_size)?.checked_add(1)?;
        pairs.push((text(name), text(value)));
    }
    Some(pairs)
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

    #[test]
    fn pairs_round_trip() {
        let headers = pairs(&[(":status", "200"), ("x-empty", ""), ("x-b", "two words")]);
        assert_eq!(decode_pairs(&encode_pairs(&headers)), Some(headers));
        assert_eq!(decode_pairs(&encode_pairs(&[])), Some(Vec::new()));
        assert_eq!(decode_pairs(b""), Some(Vec::new()));
    }

    #[test]
    fn malformed_maps_are_none_and_odd_bytes_are_replaced() {
        let encoded = encode_pairs(&pairs(&[("name", "value")]));
        for cut in 1..encoded.len() - 1 {
            assert_eq!(decode_pairs(&encoded[..cut]), None, "cut at {cut}");
        }
        // A count far beyond the bytes, and sizes that overflow.
        assert_eq!(decode_pairs(&[0xff, 0xff, 0xff, 0xff, 0, 0]), None);
        let mut huge = encoded.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode_pairs(&huge), None);
        // Bytes that are not UTF-8 in a name or value.
        let mut odd = encode_pairs(&pairs(&[("ab", "cd")]));
        let data_at = 4 + 8;
        odd[data_at] = 0xff;
        odd[data_at + 3] = 0xfe;
        assert_eq!(
            decode_pairs(&odd),
            Some(pairs(&[("\u{fffd}b", "\u{fffd}d")]))
        );
    }
}
