//! Numbers and wire formats of the proxy-wasm ABI 0.2.1, as written in the spec
//! (proxy-wasm/spec, `abi-versions/v0.2.1/README.md`) and used by the Rust SDK.

/// `proxy_status_t`: what every host call returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Status {
    Ok = 0,
    NotFound = 1,
    BadArgument = 2,
    CasMismatch = 8,
    InternalFailure = 10,
    Unimplemented = 12,
}

/// `proxy_buffer_type_t`.
pub mod buffer {
    pub const HTTP_REQUEST_BODY: i32 = 0;
    pub const HTTP_RESPONSE_BODY: i32 = 1;
    pub const VM_CONFIGURATION: i32 = 6;
    pub const PLUGIN_CONFIGURATION: i32 = 7;
    /// The last buffer type of the ABI (`FOREIGN_FUNCTION_ARGUMENTS`/call data).
    pub const LAST: i32 = 8;
}

/// `proxy_map_type_t`.
pub mod map {
    pub const HTTP_REQUEST_HEADERS: i32 = 0;
    pub const HTTP_REQUEST_TRAILERS: i32 = 1;
    pub const HTTP_RESPONSE_HEADERS: i32 = 2;
    pub const HTTP_RESPONSE_TRAILERS: i32 = 3;
    /// The last map type of the ABI (`HTTP_CALL_RESPONSE_TRAILERS`).
    pub const LAST: i32 = 7;
}

/// `proxy_stream_type_t`.
pub mod stream {
    pub const HTTP_REQUEST: i32 = 0;
    pub const HTTP_RESPONSE: i32 = 1;
    /// `UPSTREAM`, the last stream type.
    pub const LAST: i32 = 3;
}

/// `proxy_log_level_t`: trace (0) to critical (5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

impl LogLevel {
    pub fn from_abi(level: i32) -> Option<LogLevel> {
        Some(match level {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            2 => LogLevel::Info,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            5 => LogLevel::Critical,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
        }
    }
}

/// Serializes a header map: a little-endian u32 count, then each pair's key and value lengths
/// (u32 each), then each key and value followed by a NUL byte.
pub fn serialize_map(pairs: &[(String, String)]) -> Vec<u8> {
    let data_len: usize = pairs
        .iter()
        .map(|(name, value)| name.len() + value.len() + 2)
        .sum();
    let mut bytes = Vec::with_capacity(4 + pairs.len() * 8 + data_len);
    bytes.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (name, value) in pairs {
        bytes.extend_from_slice(&(name.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    for (name, value) in pairs {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
    }
    bytes
}

/// Parses a serialized header map; `None` if the lengths do not fit the bytes. An empty
/// input is an empty map (the SDK sends nothing for no headers).
pub fn deserialize_map(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let read_u32 = |at: usize| -> Option<usize> {
        let word = bytes.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes(word.try_into().ok()?) as usize)
    };
    let n_pairs = read_u32(0)?;
    let mut data_at = n_pairs.checked_mul(8)?.checked_add(4)?;
    if data_at > bytes.len() {
        return None;
    }
    let mut pairs = Vec::with_capacity(n_pairs);
    for pair_idx in 0..n_pairs {
        let mut take = |length: usize| -> Option<String> {
            let end = data_at.checked_add(length)?;
            let text = bytes.get(data_at..end)?;
            // Each key and value is followed by a NUL the lengths do not count.
            if bytes.get(end) != Some(&0) {
                return None;
            }
            data_at = end + 1;
            Some(String::from_utf8_lossy(text).into_owned())
        };
        let name_len = read_u32(4 + pair_idx * 8)?;
        let value_len = read_u32(8 + pair_idx * 8)?;
        let name = take(name_len)?;
        let value = take(value_len)?;
        pairs.push((name, value));
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_round_trips_through_the_wire_format() {
        let pairs = vec![
            (":method".to_string(), "GET".to_string()),
            ("x-empty".to_string(), String::new()),
        ];
        let bytes = serialize_map(&pairs);
        assert_eq!(&bytes[..4], &2u32.to_le_bytes());
        assert_eq!(bytes.len(), 4 + 16 + (7 + 1 + 3 + 1) + (7 + 1 + 1));
        assert_eq!(deserialize_map(&bytes), Some(pairs));
    }

    #[test]
    fn truncated_maps_are_rejected() {
        let bytes = serialize_map(&[("a".to_string(), "b".to_string())]);
        for cut in 1..bytes.len() {
            assert_eq!(deserialize_map(&bytes[..cut]), None, "cut at {cut}");
        }
        assert_eq!(deserialize_map(&[255, 255, 255, 255]), None);
    }
}
