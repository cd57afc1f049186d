//! One keep-alive HTTP/1.1 connection to a hookd node, for the tools that call its
//! management API (`backlog`, `propagation`) or send it a single request at a time.

use anyhow::{Context as _, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use serde_json::Value;

use crate::load;

/// A connection to one node.
pub(crate) struct Node {
    /// `host:port`, as the `Host` header of every request.
    pub(crate) authority: HeaderValue,
    sender: SendRequest<Full<Bytes>>,
}

impl Node {
    /// Connects to the node at `url` (http only).
    pub(crate) async fn connect(url: &Uri) -> anyhow::Result<Self> {
        ensure!(
            url.scheme_str() == Some("http"),
            "{url}: only http:// is supported"
        );
        let authority = url.authority().with_context(|| format!("{url}: no host"))?;
        Ok(Self {
            authority: HeaderValue::from_str(authority.as_str())?,
            sender: load::connect(authority.as_str()).await?,
        })
    }

    /// Sends `request` and reads the whole answer.
    pub(crate) async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let answer = self.sender.send_request(request).await?;
        let status = answer.status();
        Ok((status, answer.into_body().collect().await?.to_bytes()))
    }

    /// A management API call with `token`; the JSON of its 2xx answer.
    pub(crate) async fn call(
        &mut self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()?
            .unwrap_or_default();
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(HOST, self.authority.clone())
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let (status, answer) = self.send(request).await?;
        ensure!(
            status.is_success(),
            "{method} {path} answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
        serde_json::from_slice(&answer).with_context(|| format!("reading {method} {path}"))
    }
}
