//! A small blocking HTTP/1.1 client for loopback JSON services (WebDriver, the desktop app's
//! local API): one request per connection, `Content-Length` or chunked answers.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One request; `(status, body)` with the body parsed as JSON (or as a JSON string when it is
/// not JSON, so a test can print it).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, Value) {
    let (status, text) = request_text(addr, method, path, headers, body.map(Value::to_string));
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

/// Like [`request`] with the body as text.
pub fn request_text(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes()).unwrap();
    // Read the head, then exactly the body: some servers keep the connection open despite
    // `Connection: close`.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "no HTTP head: {}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let length: Option<usize> = header("content-length").and_then(|v| v.parse().ok());
    let mut rest_buf = raw[split + 4..].to_vec();
    loop {
        let complete = match (chunked, length) {
            (false, Some(n)) => rest_buf.len() >= n,
            (true, _) => rest_buf.windows(5).any(|w| w == b"0\r\n\r\n"),
            (false, None) => false,
        };
        if complete {
            break;
        }
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        rest_buf.extend_from_slice(&buf[..n]);
    }
    let mut rest = &rest_buf[..];
    let body = if chunked {
        let mut out = Vec::new();
        loop {
            let end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .unwrap_or(rest.len());
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..end]).trim(), 16)
                .unwrap_or(0);
            if size == 0 || end + 2 + size > rest.len() {
                break;
            }
            out.extend_from_slice(&rest[end + 2..end + 2 + size]);
            rest = &rest[(end + 4 + size).min(rest.len())..];
        }
        out
    } else {
        rest[..length.unwrap_or(rest.len()).min(rest.len())].to_vec()
    };
    (status, String::from_utf8_lossy(&body).to_string())
}
