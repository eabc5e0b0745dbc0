//! Checks `Authorization: Bearer <payload>.<sig>` on every request, where `sig` is the
//! lowercase hex HMAC-SHA256 of the payload under a demo key. A valid token passes the
//! request on with `X-User: <payload>`; anything else is answered with 401 at once.
use rvedge_tenant::*;

/// The demo key; a real tenant would embed its own secret.
const KEY: &[u8] = b"rvedge-demo-key";

fn on_recv(_req: u32, _resp: u32) {
    let user = get_req_header("Authorization").and_then(|header| verified_user(&header));
    match user {
        // Set, not added: a client-sent X-User must not survive next to the verified one.
        Some(user) => set_req_header("X-User", &user),
        None => respond(401, "text/plain", "invalid token\n"),
    }
}

/// The payload of a valid `Bearer <payload>.<sig>` header value, or `None`.
fn verified_user(header: &str) -> Option<String> {
    let (scheme, token) = header.split_once(' ')?;
    // Authentication schemes are case-insensitive (RFC 9110, section 11.1).
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return None;
    }
    // The signature is hex, so the last '.' separates it even if the payload has dots.
    let (payload, signature) = token.rsplit_once('.')?;
    if payload.is_empty() {
        return None;
    }
    let signature = decode_lowercase_hex(signature)?;
    let expected = hmac_sha256(KEY, payload.as_bytes());
    constant_time_eq(&signature, &expected).then(|| payload.to_string())
}

/// 64 lowercase hex digits as 32 bytes; anything else is `None`.
fn decode_lowercase_hex(text: &str) -> Option<[u8; 32]> {
    fn digit(byte: u8) -> Option<u8> {
        match byte {
            b'0'..=b'9' => Some(byte - b'0'),
            b'a'..=b'f' => Some(byte - b'a' + 10),
            _ => None,
        }
    }
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(bytes)
}

/// Compares without an early exit, so the time taken does not reveal how many leading
/// bytes of a forged signature were right.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold back into an early-exit compare.
    std::hint::black_box(difference) == 0
}

fn main() {
    wait_for_requests(on_recv);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_must_be_64_lowercase_digits() {
        let good = "00".repeat(31) + "ff";
        assert_eq!(decode_lowercase_hex(&good).map(|b| b[31]), Some(0xff));
        assert_eq!(decode_lowercase_hex(&good.to_uppercase()), None);
        assert_eq!(decode_lowercase_hex(&good[2..]), None);
        assert_eq!(decode_lowercase_hex(&(good.clone() + "00")), None);
    }

    #[test]
    fn compare_is_exact() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] ^= 1;
        assert!(!constant_time_eq(&a, &b));
    }
}
