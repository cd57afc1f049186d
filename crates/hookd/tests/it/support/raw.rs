//! Raw HTTP/1.1 over a TCP socket, for requests `reqwest` (built without its `stream`
//! feature) cannot make: a chunked body without `Content-Length`.

use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::WAIT;
use super::signer::Headers;

/// Sends `POST path` with `Transfer-Encoding: chunked`, the body split into `chunks`,
/// and `Connection: close`; returns the status and the JSON answer.
///
/// The whole request goes out in one write and is kept small by the callers, so the
/// server has read all of it when it answers early; closing then sends no reset that
/// could swallow the answer.
pub(crate) async fn post_chunked(
    addr: SocketAddr,
    path: &str,
    headers: &Headers,
    chunks: &[&[u8]],
) -> (u16, Value) {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n"
    )
    .into_bytes();
    for (name, value) in headers {
        request.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    for chunk in chunks {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");

    let exchange = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .expect("connecting to the gateway");
        stream
            .write_all(&request)
            .await
            .expect("sending the request");
        let mut answer = Vec::new();
        // A reset after the answer is fine: what was read is kept.
        let _ = stream.read_to_end(&mut answer).await;
        answer
    };
    let answer = tokio::time::timeout(WAIT, exchange)
        .await
        .expect("the gateway answers the chunked request");
    parse_response(&answer)
}

/// Splits an HTTP/1.1 answer into its status and JSON body (sized or chunked).
fn parse_response(answer: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head:?}"));
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    let json =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body:?}"));
    (status, json)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((size, rest)) = body.split_once("\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}
