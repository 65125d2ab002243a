//! Reading one HTTP/1.1 request in the tests' fake servers (request line, headers, body by
//! Content-Length).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;

/// One request.
pub struct Request {
    /// `POST /path HTTP/1.1`.
    pub line: String,
    /// The header fields, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A header field's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The method.
    pub fn method(&self) -> &str {
        self.line.split_whitespace().next().unwrap_or("")
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        let p = self.line.split_whitespace().nth(1).unwrap_or("");
        p.split('?').next().unwrap_or(p)
    }
}

/// Reads a request from `s`.
pub fn read(s: &TcpStream) -> Option<Request> {
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut len = 0;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            if n.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        line: line.trim_end().to_string(),
        headers,
        body,
    })
}
