//! ARM over HTTP: one GET with the bearer token, paced per subscription,
//! bounded in concurrency, retried on 429 and 5xx (and on bodies that arrive
//! cut short), and lists followed through `nextLink` to the end. A request
//! that finally fails is returned as a `Failure` for the snapshot to record;
//! it never aborts the scan.

use super::{
    credential::Credential,
    pacing::Pacer,
    retry::{self, RetryPolicy},
};
use rand::{rngs::StdRng, SeedableRng};
use secrecy::ExposeSecret;
use serde_json::Value;
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, SystemTime},
};
use tokio::sync::Semaphore;
use url::Url;

/// The largest response body accepted (ARM pages are far smaller).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// The most pages followed in one list, against a server that never ends one.
const MAX_PAGES: usize = 10_000;

/// A request that could not be completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: Option<u16>,
    pub message: String,
}

/// What the client has done so far, for progress and the final summary.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
    pub failed: AtomicU64,
}

impl Counters {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

pub struct ArmClient {
    http: reqwest::Client,
    base: Url,
    credential: Arc<Credential>,
    pacer: Pacer,
    permits: Semaphore,
    retry: RetryPolicy,
    rng: Mutex<StdRng>,
    pub counters: Counters,
}

impl ArmClient {
    pub fn new(
        base: Url,
        credential: Arc<Credential>,
        pacer: Pacer,
        concurrency: usize,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> anyhow::Result<ArmClient> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("attest/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(ArmClient {
            http,
            base,
            credential,
            pacer,
            permits: Semaphore::new(concurrency.max(1)),
            retry,
            rng: Mutex::new(StdRng::from_entropy()),
            counters: Counters::default(),
        })
    }

    /// The absolute URL of `path` with `query` (api-version first).
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = self.base.clone();
        url.set_path(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url.into()
    }

    /// GET one document.
    pub async fn get(&self, url: &str) -> Result<Value, Failure> {
        self.send(url, None).await
    }

    /// POST a JSON body (Microsoft Graph's `getByIds`), retried as reads
    /// are: the actions posted to are reads.
    pub async fn post(&self, url: &str, body: &Value) -> Result<Value, Failure> {
        self.send(url, Some(body)).await
    }

    async fn send(&self, url: &str, body: Option<&Value>) -> Result<Value, Failure> {
        if !self.same_origin(url) {
            // A nextLink pointing elsewhere would be handed our token.
            return Err(Failure {
                status: None,
                message: format!("refused to follow a link off the ARM endpoint: {url}"),
            });
        }
        let mut attempt = 0u32;
        loop {
            let (failure, asked) = match self.attempt(url, body).await {
                Ok(doc) => return Ok(doc),
                Err(e) => e,
            };
            let retryable = failure.status.is_none_or(retry::is_retryable);
            if !retryable || attempt + 1 >= self.retry.max_attempts {
                Counters::bump(&self.counters.failed);
                return Err(failure);
            }
            let wait = {
                let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
                match asked {
                    Some(asked) => self.retry.honour(asked, &mut *rng).ok_or_else(|| Failure {
                        status: failure.status,
                        message: format!(
                            "{} (asked to wait {} s; not waiting that long)",
                            failure.message,
                            asked.as_secs()
                        ),
                    }),
                    None => Ok(self.retry.backoff(attempt, &mut *rng)),
                }
            };
            let wait = wait.inspect_err(|_| Counters::bump(&self.counters.failed))?;
            Counters::bump(&self.counters.retries);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// GET every page of a list, following `nextLink` (or Graph's
    /// `@odata.nextLink`) until there is none.
    pub async fn list(&self, first: &str) -> Result<Vec<Value>, Failure> {
        let mut items = Vec::new();
        let mut next = Some(first.to_string());
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(Failure { status: None, message: format!("more than {MAX_PAGES} pages; stopped") });
            }
            let mut page = self.get(&url).await?;
            match page.get_mut("value").map(Value::take) {
                Some(Value::Array(values)) => items.extend(values),
                Some(Value::Null) | None => {}
                Some(_) => {
                    return Err(Failure { status: Some(200), message: "the list's `value` is not an array".into() })
                }
            }
            // A page may hold no records and still have a next one. ARM
            // names it `nextLink`, Microsoft Graph `@odata.nextLink`.
            next = page
                .get("nextLink")
                .or_else(|| page.get("@odata.nextLink"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
        }
        Ok(items)
    }

    fn same_origin(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| u.origin() == self.base.origin())
    }

    /// One try: the document, or the failure and the wait the server asked for.
    async fn attempt(&self, url: &str, body: Option<&Value>) -> Result<Value, (Failure, Option<Duration>)> {
        let token = self.credential.bearer().await.map_err(|message| (Failure { status: None, message }, None))?;
        self.pacer.ready(url).await;
        let _permit = self.permits.acquire().await.expect("the semaphore is never closed");
        Counters::bump(&self.counters.requests);
        let request = match body {
            Some(body) => self.http.post(url).json(body),
            None => self.http.get(url),
        };
        let response = request
            .bearer_auth(token.expose_secret())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| (Failure { status: None, message: transport_message(&e) }, None))?;
        let status = response.status().as_u16();
        let asked = retry::retry_after(response.headers(), SystemTime::now());
        if status == 429 {
            Counters::bump(&self.counters.throttled);
        }
        let too_big = response.content_length().is_some_and(|n| n as usize > MAX_BODY);
        if too_big {
            return Err((
                Failure { status: Some(status), message: format!("response larger than {MAX_BODY} bytes") },
                None,
            ));
        }
        let body = response.bytes().await.map_err(|e| {
            (
                Failure {
                    status: None,
                    message: format!("the response body was cut short: {}", transport_message(&e)),
                },
                None,
            )
        })?;
        if !(200..300).contains(&status) {
            return Err((Failure { status: Some(status), message: arm_error(status, &body) }, asked));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => Ok(v),
            // A 200 whose JSON does not parse arrived damaged: try again.
            Err(e) => {
                Err((Failure { status: None, message: format!("the response was not complete JSON ({e})") }, None))
            }
        }
    }
}

/// `code: message` from ARM's error body, or the status line.
fn arm_error(status: u16, body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    match (
        error.and_then(|e| e.get("code")).and_then(Value::as_str),
        error.and_then(|e| e.get("message")).and_then(Value::as_str),
    ) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => format!(
            "HTTP {status} {}",
            reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("")
        ),
    }
}

fn transport_message(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_errors_read_as_code_and_message() {
        let body = br#"{"error":{"code":"AuthorizationFailed","message":"The client does not have authorization."}}"#;
        assert_eq!(arm_error(403, body), "AuthorizationFailed: The client does not have authorization.");
        assert_eq!(arm_error(502, b"<html>bad gateway</html>"), "HTTP 502 Bad Gateway");
    }
}
