//! Validates JSON bodies of POST requests with the host's JSON helpers and answers with a
//! forged response: 400 and the parser's message for invalid JSON, otherwise
//! `{"valid":true,"name":...}` with the document's top-level `name` (or null). Other
//! methods pass through unchanged.
use rvedge_tenant::*;

fn on_recv(_req: u32, _resp: u32) {
    if get_method() == "POST" {
        forge(CachingDecision::Uncached, validate);
    }
}

/// The forge callback: runs on the backend side, where the client body is read.
fn validate(_bereq: u32, _beresp: u32) -> BackendResponse {
    let body = get_body();
    if let Err(message) = json_validate(&body) {
        return BackendResponse {
            status: 400,
            content_type: "text/plain",
            body: format!("invalid JSON: {message}"),
        };
    }
    // json_query returns a string value unquoted (and any other value as JSON text), so the
    // name is always re-encoded as a JSON string.
    let name = match json_query(&body, "/name") {
        Ok(Some(name)) => json_string(&name),
        Ok(None) => "null".to_string(),
        Err(error) => {
            return BackendResponse {
                status: 500,
                content_type: "text/plain",
                body: format!("json_query failed: {error}"),
            }
        }
    };
    BackendResponse {
        status: 200,
        content_type: "application/json",
        body: format!("{{\"valid\":true,\"name\":{name}}}"),
    }
}

/// `text` as a quoted JSON string literal (RFC 8259, section 7).
fn json_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if u32::from(c) < 0x20 => quoted.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn main() {
    wait_for_requests(on_recv);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_escapes() {
        assert_eq!(json_string("Ada"), r#""Ada""#);
        assert_eq!(json_string("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\u0001é""#);
    }
}
