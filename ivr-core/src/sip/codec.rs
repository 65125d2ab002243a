//! SIP message codec, our own (not `rsip`: docs/sip-conformance.md, "Why the codec is our
//! own", and `tests/rsip_gaps.rs` measure why): it reads the start line first (so unknown methods get 501 instead of a parse failure), unfolds continuation lines,
//! expands compact header names (RFC 3261 §7.3.3), frames the body by Content-Length (UDP:
//! extra octets dropped, too few rejected; TCP: [`Framer`]), checks the mandatory and
//! single-valued headers and the scalar fields, and keeps every header line verbatim so Via
//! lines can be copied into responses exactly.
//!
//! The verdicts follow RFC 4475 and RFC 5118 (see shared/testdata/sip-torture/README.md); each
//! torture message is a test.

/// A parsed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The start line.
    pub start: Start,
    /// Headers in order: canonical lowercase name and the value as written (unfolded).
    pub headers: Vec<(String, String)>,
    /// The body (exactly Content-Length octets when it was given).
    pub body: Vec<u8>,
}

/// The start line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// A request.
    Request {
        /// Method as written (case-sensitive).
        method: String,
        /// Request-URI as written.
        uri: String,
    },
    /// A response.
    Response {
        /// Status code.
        code: u16,
        /// Reason phrase (may be empty).
        reason: String,
    },
}

/// Why a message cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Answer a request with this status (when enough of it was read to build a response).
    #[error("{code} {reason}")]
    Reject {
        /// Status code.
        code: u16,
        /// Reason phrase for the response.
        reason: String,
    },
    /// Nothing can be answered: drop it.
    #[error("dropped: {0}")]
    Drop(String),
}

impl CodecError {
    /// Who is at fault: the peer that sent the message.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Peer
    }
}

fn reject(code: u16, reason: impl Into<String>) -> CodecError {
    CodecError::Reject {
        code,
        reason: reason.into(),
    }
}

/// Methods this engine implements (others get 501).
pub const METHODS: &[&str] = &[
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "UPDATE", "REFER", "NOTIFY", "PRACK",
];

/// Whether the engine implements a request's method (otherwise it answers 501 with Allow).
pub fn method_supported(m: &Message) -> bool {
    match &m.start {
        Start::Request { method, .. } => METHODS.contains(&method.as_str()),
        Start::Response { .. } => true,
    }
}

/// The long form of a compact header name.
pub fn expand(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "v" => "via",
        "f" => "from",
        "t" => "to",
        "i" => "call-id",
        "m" => "contact",
        "l" => "content-length",
        "k" => "supported",
        "s" => "subject",
        "c" => "content-type",
        "e" => "content-encoding",
        "o" => "event",
        "r" => "refer-to",
        "b" => "referred-by",
        "u" => "allow-events",
        "x" => "session-expires",
        "a" => "accept-contact",
        "j" => "reject-contact",
        "d" => "request-disposition",
        "y" => "identity",
        "n" => "identity-info",
        _ => return lower,
    }
    .to_string()
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// Splits a header value at top-level commas (not inside quotes or angle brackets).
pub fn split_values(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut escape) = (false, false, false);
    let mut start = 0;
    for (i, c) in v.char_indices() {
        if escape {
            escape = false;
            continue;
        }
        match c {
            '\\' if quoted => escape = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(v[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(v[start..].trim());
    out
}

impl Message {
    /// Values of a header (all lines, comma-separated values split).
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| split_values(v))
            .collect()
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether it is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }
}

/// Parses one UDP datagram.
pub fn parse_datagram(buf: &[u8]) -> Result<Message, CodecError> {
    let (head_len, body_start) = match find(buf, b"\r\n\r\n") {
        Some(i) => (i, i + 4),
        None => match find(buf, b"\n\n") {
            Some(i) => (i, i + 2),
            // No empty line: everything is headers, and there is no body.
            None => (buf.len(), buf.len()),
        },
    };
    let head = std::str::from_utf8(&buf[..head_len]).map_err(|_| {
        // Header bytes must be UTF-8 (quoted strings may carry controls, still valid UTF-8).
        reject(400, "Bad Request (header bytes are not UTF-8)")
    })?;
    let mut lines: Vec<String> = Vec::new();
    for raw in head.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.starts_with([' ', '\t']) {
            let n = lines.len();
            match lines.last_mut() {
                Some(prev) if n > 1 => {
                    prev.push(' ');
                    prev.push_str(line.trim());
                }
                _ => {
                    return Err(reject(
                        400,
                        "Bad Request (continuation line without a header)",
                    ));
                }
            }
        } else if !line.is_empty() {
            lines.push(line.to_string());
        }
    }
    let Some(first) = lines.first() else {
        return Err(CodecError::Drop("empty message".into()));
    };
    let start = start_line(first)?;
    let is_request = matches!(start, Start::Request { .. });
    // Errors in a response cannot be answered: drop instead.
    let fail = |code: u16, reason: &str| {
        if is_request {
            reject(code, reason)
        } else {
            CodecError::Drop(reason.to_string())
        }
    };
    let mut headers = Vec::with_capacity(lines.len());
    for l in &lines[1..] {
        let Some((name, value)) = l.split_once(':') else {
            return Err(fail(400, "Bad Request (header line without a colon)"));
        };
        let name = name.trim_end();
        if name.is_empty() || !name.chars().all(is_token_char) {
            return Err(fail(400, "Bad Request (malformed header name)"));
        }
        headers.push((expand(name), value.trim().to_string()));
    }
    let mut m = Message {
        start,
        headers,
        body: Vec::new(),
    };
    // Content-Length: framing (RFC 3261 §18.3).
    let lengths: Vec<&str> = m.values("content-length");
    let body = &buf[body_start.min(buf.len())..];
    match lengths.as_slice() {
        [] => m.body = body.to_vec(),
        [one] => {
            let n: usize = one
                .parse()
                .map_err(|_| fail(400, "Bad Request (Content-Length is not a number)"))?;
            if body.len() < n {
                return Err(fail(400, "Bad Request (body shorter than Content-Length)"));
            }
            m.body = body[..n].to_vec();
        }
        _ => return Err(fail(400, "Bad Request (more than one Content-Length)")),
    }
    check(&m).map_err(|(code, reason)| fail(code, &reason))?;
    Ok(m)
}

/// What can be read of a request the codec rejected, to answer it: the start line and the
/// Via, From, To, Call-ID and CSeq lines as written. `None` when there is no request line or
/// no Via (then nobody can be answered).
pub fn salvage(buf: &[u8]) -> Option<Message> {
    let text = String::from_utf8_lossy(buf);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.lines();
    let first = lines.next()?;
    let mut parts = first.split_whitespace();
    let (method, uri) = (parts.next()?, parts.next()?);
    if method.starts_with("SIP/") {
        return None;
    }
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (expand(n.trim()), v.trim().to_string()))
        .filter(|(n, _)| matches!(n.as_str(), "via" | "from" | "to" | "call-id" | "cseq"))
        .collect();
    headers.iter().any(|(n, _)| n == "via").then(|| Message {
        start: Start::Request {
            method: method.to_string(),
            uri: uri.to_string(),
        },
        headers,
        body: Vec::new(),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn start_line(line: &str) -> Result<Start, CodecError> {
    if let Some(rest) = line.strip_prefix("SIP/") {
        let (version, rest) = rest
            .split_once(' ')
            .ok_or_else(|| CodecError::Drop("malformed status line".into()))?;
        if version != "2.0" {
            return Err(CodecError::Drop(format!("SIP version {version}")));
        }
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code: u16 = code
            .parse()
            .ok()
            .filter(|c| (100..=699).contains(c))
            .ok_or_else(|| CodecError::Drop(format!("status code {code}")))?;
        return Ok(Start::Response {
            code,
            reason: reason.to_string(),
        });
    }
    // Request-Line: method SP Request-URI SP SIP-Version (runs of SP and trailing SP are
    // tolerated; RFC 4475 §3.1.2.9/10 allow a liberal reading).
    let parts: Vec<&str> = line.split(' ').filter(|p| !p.is_empty()).collect();
    let [method, uri, version] = parts.as_slice() else {
        return Err(reject(400, "Bad Request (malformed Request-Line)"));
    };
    if !method.chars().all(is_token_char) {
        return Err(reject(400, "Bad Request (malformed method)"));
    }
    if !version.starts_with("SIP/") {
        return Err(reject(400, "Bad Request (malformed SIP-Version)"));
    }
    if *version != "SIP/2.0" {
        return Err(reject(505, "Version Not Supported"));
    }
    if uri.starts_with('<') {
        return Err(reject(400, "Bad Request (Request-URI in angle brackets)"));
    }
    Ok(Start::Request {
        method: method.to_string(),
        uri: uri.to_string(),
    })
}

/// Header checks: mandatory headers, single values, scalars, Via, quoting.
fn check(m: &Message) -> Result<(), (u16, String)> {
    let bad = |what: &str| (400, format!("Bad Request ({what})"));
    for h in ["via", "from", "to", "call-id", "cseq"] {
        if m.header(h).is_none() {
            return Err(bad(&format!("missing {h}")));
        }
    }
    for h in ["from", "to", "call-id", "cseq", "max-forwards"] {
        if m.values(h).len() > 1 {
            return Err(bad(&format!("more than one {h}")));
        }
    }
    for h in ["from", "to", "contact"] {
        for v in m.values(h) {
            if v.chars().filter(|&c| c == '"').count() % 2 == 1 && !v.contains("\\\"") {
                return Err(bad(&format!("unterminated quoted string in {h}")));
            }
        }
    }
    let cseq = m.header("cseq").unwrap_or("");
    let (num, method) = cseq
        .split_once(char::is_whitespace)
        .ok_or_else(|| bad("malformed CSeq"))?;
    num.parse::<u32>()
        .map_err(|_| bad("CSeq number out of range"))?;
    if let Some(mf) = m.header("max-forwards") {
        mf.parse::<u8>()
            .map_err(|_| bad("Max-Forwards out of range"))?;
    }
    for v in m.values("via") {
        // sent-protocol (LWS allowed around the slashes) SP sent-by *( ";" via-params )
        let squeezed = v.split_whitespace().collect::<Vec<_>>().join(" ");
        let squeezed = squeezed
            .replace(" / ", "/")
            .replace(" /", "/")
            .replace("/ ", "/");
        let (proto, rest) = squeezed
            .split_once(' ')
            .ok_or_else(|| bad("malformed Via"))?;
        let mut p = proto.split('/');
        let ok = p.next() == Some("SIP")
            && p.next() == Some("2.0")
            && p.next()
                .is_some_and(|t| !t.is_empty() && t.chars().all(is_token_char))
            && p.next().is_none();
        if !ok
            || rest.trim().is_empty()
            || rest.split(';').skip(1).any(|param| param.trim().is_empty())
        {
            return Err(bad("malformed Via"));
        }
    }
    if let Start::Request { method: rm, uri } = &m.start {
        if method.trim() != rm && METHODS.contains(&rm.as_str()) {
            return Err(bad("CSeq method does not match the request"));
        }
        if let Some(host) = uri_hostport(uri)
            && host.matches(':').count() > 1
            && !host.starts_with('[')
        {
            return Err(bad("IPv6 reference without brackets"));
        }
    }
    Ok(())
}

/// The media type of a Content-Type or Accept value: lowercase, without parameters.
pub fn mime_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The `host[:port]` part of a sip:/sips: URI, as written (with brackets for IPv6).
pub fn uri_hostport(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let end = rest.find([';', '?']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Frames SIP messages on a stream (TCP): each message ends after its headers plus
/// Content-Length octets (which a stream requires). Each received octet is scanned for the
/// end of the headers once, however the stream is cut into reads, and every length is checked
/// against the limit before it is added to anything.
#[derive(Clone, Debug)]
pub struct Framer {
    buf: Vec<u8>,
    limit: usize,
    /// How much of `buf` is known not to hold the end of the headers.
    scanned: usize,
    /// The whole length of the message at the front, once its headers are complete.
    total: Option<usize>,
}

impl Default for Framer {
    /// A framer for messages of up to 64 KiB.
    fn default() -> Self {
        Framer::with_limit(65_536)
    }
}

/// What a stream yielded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framed {
    /// One complete message's bytes.
    Message(Vec<u8>),
    /// The stream cannot be framed any more (bad or missing Content-Length): close it.
    Broken(String),
}

impl Framer {
    /// A framer that gives up on the stream (close it) when one message would exceed `limit`
    /// octets, so a peer cannot make it buffer without end.
    pub fn with_limit(limit: usize) -> Self {
        Framer {
            buf: Vec::new(),
            limit,
            scanned: 0,
            total: None,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Octets held that are not yet a whole message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete message, if there is one.
    pub fn next_message(&mut self) -> Option<Framed> {
        let total = match self.total {
            Some(t) => t,
            None => match self.head() {
                Ok(Some(t)) => {
                    self.total = Some(t);
                    t
                }
                Ok(None) => return None,
                Err(why) => return Some(Framed::Broken(why)),
            },
        };
        if self.buf.len() < total {
            return None;
        }
        let rest = self.buf.split_off(total);
        let msg = std::mem::replace(&mut self.buf, rest);
        self.total = None;
        self.scanned = 0;
        Some(Framed::Message(msg))
    }

    /// The length of the message at the front once its headers are complete (`Ok(None)`:
    /// not yet), or why the stream cannot be framed.
    fn head(&mut self) -> Result<Option<usize>, String> {
        // Keep-alives (RFC 5626 CRLF) between messages.
        let crlfs = self
            .buf
            .chunks_exact(2)
            .take_while(|c| *c == b"\r\n")
            .count();
        if crlfs > 0 {
            self.buf.drain(..crlfs * 2);
            self.scanned = 0;
        }
        // The end of the headers may straddle the previous read: look back three octets.
        let from = self.scanned.saturating_sub(3);
        let Some(at) = find(&self.buf[from..], b"\r\n\r\n") else {
            self.scanned = self.buf.len();
            return if self.buf.len() > self.limit {
                Err("headers longer than the message limit".into())
            } else {
                Ok(None)
            };
        };
        let end = from + at;
        let head = String::from_utf8_lossy(&self.buf[..end]);
        let mut lengths = head
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| expand(n.trim()) == "content-length")
            .map(|(_, v)| v.trim().parse::<usize>());
        let n = match (lengths.next(), lengths.next()) {
            (Some(Ok(n)), None) => n,
            (None, _) => return Err("no Content-Length on a stream".into()),
            _ => return Err("bad Content-Length on a stream".into()),
        };
        match n.checked_add(end + 4).filter(|&t| t <= self.limit) {
            Some(total) => Ok(Some(total)),
            None => Err(format!(
                "a message with Content-Length {n} is over the {}-octet limit",
                self.limit
            )),
        }
    }
}
