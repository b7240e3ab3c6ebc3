//! A fake Azure Resource Manager, for tests and for trying Attest without
//! Azure (`attest fake-arm`). It serves an estate from the demo generator in
//! ARM's shapes, pages every list through `nextLink`, throttles reads with
//! ARM's per-subscription token bucket (429 with Retry-After, in seconds or
//! as an HTTP date), and injects faults on demand.

pub mod estate;
pub mod faults;

use crate::scan::pacing::{budget_key, Budget};
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use estate::Answer;
pub use estate::Estate;
use faults::Throttle;
pub use faults::{Fault, FaultPlan, Stats};
use serde_json::{json, Value};
use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Records per page of every list.
    pub page_size: usize,
    /// Start every list with an empty page that carries a nextLink (legal in ARM).
    pub empty_first_page: bool,
    /// The bearer token to require; any token is accepted when `None`.
    pub token: Option<String>,
    /// The read budget per subscription; no throttling when `None`.
    pub throttle: Option<Budget>,
    pub faults: FaultPlan,
    /// Added to every answer, as a real ARM's round trip would be.
    pub latency: Duration,
    /// Lower-case path fragments answered 403, as ARM answers a credential
    /// without the role (PIM's schedules need more than Reader).
    pub forbidden: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            page_size: 50,
            empty_first_page: false,
            token: None,
            throttle: None,
            faults: FaultPlan::default(),
            latency: Duration::ZERO,
            forbidden: Vec::new(),
        }
    }
}

pub struct FakeArm {
    estate: Estate,
    options: Options,
    throttle: Option<Throttle>,
    pub stats: Stats,
}

impl FakeArm {
    pub fn new(estate: Estate, options: Options) -> Arc<FakeArm> {
        Arc::new(FakeArm { estate, throttle: options.throttle.map(Throttle::new), options, stats: Stats::default() })
    }

    pub fn estate(&self) -> &Estate {
        &self.estate
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }
}

/// Serves `arm` on an ephemeral port of this machine, in the background, for
/// tests and benchmarks; returns its base URL.
pub async fn spawn_local(arm: &Arc<FakeArm>) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = arm.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(format!("http://{addr}"))
}

/// ARM's error body.
/// Microsoft Graph's `directoryObjects/getByIds`, served beside ARM.
const GET_BY_IDS: &str = "/v1.0/directoryObjects/getByIds";

/// Answers getByIds as Graph does: the objects it knows among `ids`, in an
/// OData collection; ids it does not know are left out.
async fn get_by_ids(arm: &FakeArm, request: Request) -> Response {
    let body = match axum::body::to_bytes(request.into_body(), 1 << 20).await {
        Ok(b) => b,
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "Request_BadRequest", "the body is too large"),
    };
    let ids: Vec<String> = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => match v["ids"].as_array() {
            Some(ids) if ids.len() <= 1000 => ids.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
            Some(_) => return error(StatusCode::BAD_REQUEST, "Request_BadRequest", "at most 1000 ids per request"),
            None => return error(StatusCode::BAD_REQUEST, "Request_BadRequest", "the body needs an `ids` array"),
        },
        Err(_) => return error(StatusCode::BAD_REQUEST, "Request_BadRequest", "the body is not JSON"),
    };
    Stats::bump(&arm.stats.ok);
    let value: Vec<Value> = ids.iter().filter_map(|id| arm.estate.principal(id)).collect();
    axum::Json(json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": value}))
        .into_response()
}

/// Answers `GET /v1.0/groups/{id}/transitiveMembers` as Graph does: an OData
/// collection of directory objects, paged through `@odata.nextLink`.
fn transitive_members(arm: &FakeArm, base: &str, group: &str, query: &[(String, String)]) -> Response {
    let Some(members) = arm.estate.members(group) else {
        return error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{group}' does not exist or one of its queried reference-property objects are not present."
            ),
        );
    };
    let skip: usize = query.iter().find(|(k, _)| k == "$skiptoken").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    // Paged as ARM's lists are here (Graph's own pages hold 100).
    let per_page = arm.options.page_size.max(1);
    let page: Vec<&Value> = members.iter().skip(skip).take(per_page).collect();
    let mut body =
        json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": page});
    if skip + per_page < members.len() {
        body["@odata.nextLink"] =
            format!("{base}/v1.0/groups/{group}/transitiveMembers?$skiptoken={}", skip + per_page).into();
    }
    Stats::bump(&arm.stats.ok);
    axum::Json(body).into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

async fn handle(State(arm): State<Arc<FakeArm>>, request: Request) -> Response {
    let n = Stats::bump(&arm.stats.requests);
    let _in_flight = arm.stats.enter();
    let graph = request.uri().path().eq_ignore_ascii_case(GET_BY_IDS);
    if request.method() != Method::GET && !(graph && request.method() == Method::POST) {
        return error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "the fake ARM serves reads only");
    }
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let authorised = match (&arm.options.token, bearer) {
        (_, None) => false,
        (Some(want), Some(got)) => want == got,
        (None, Some(_)) => true,
    };
    if !authorised {
        Stats::bump(&arm.stats.unauthorized);
        return error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", "The access token is invalid.");
    }
    let uri = request.uri().clone();
    let path = uri.path().to_string();
    let lower = path.to_ascii_lowercase();
    if arm.options.forbidden.iter().any(|f| lower.contains(f.as_str())) {
        return error(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            &format!("The client does not have authorization to perform action over scope '{path}'."),
        );
    }
    if graph {
        return get_by_ids(&arm, request).await;
    }
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    if let Some(group) = lower.strip_prefix("/v1.0/groups/").and_then(|rest| rest.strip_suffix("/transitivemembers")) {
        let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        return transitive_members(&arm, &format!("http://{host}"), group, &query);
    }
    if !query.iter().any(|(k, _)| k == "api-version") {
        return error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    }

    // Throttling first, as ARM does: a throttled request is not processed.
    let key = budget_key(&path);
    let mut remaining = None;
    if let Some(throttle) = &arm.throttle {
        match throttle.take(&key) {
            Ok(left) => remaining = Some(left),
            Err(seconds) => {
                let k = Stats::bump(&arm.stats.throttled);
                // Alternate the two forms ARM clients must understand.
                let value = if k.is_multiple_of(2) {
                    seconds.to_string()
                } else {
                    httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(seconds + 1))
                };
                let mut response = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "SubscriptionRequestsThrottled",
                    &format!("Number of 'read' requests for subscription '{key}' exceeded. Please try again after '{seconds}' seconds."),
                );
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_str(&value).expect("ascii"));
                return response;
            }
        }
    }

    if !arm.options.latency.is_zero() {
        tokio::time::sleep(arm.options.latency).await;
    }
    let fault = arm.options.faults.pick(n);
    match fault {
        Some(Fault::ServerError) => {
            Stats::bump(&arm.stats.server_errors);
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Encountered internal server error.",
            );
        }
        Some(Fault::Unavailable { retry_after }) => {
            Stats::bump(&arm.stats.server_errors);
            let mut response =
                error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", "The service is unavailable.");
            if retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            return response;
        }
        Some(Fault::Slow) => {
            Stats::bump(&arm.stats.slow);
            tokio::time::sleep(arm.options.faults.slow).await;
        }
        Some(Fault::Truncated) | None => {}
    }

    let base =
        format!("http://{}", request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost"));
    let body = match arm.estate.get(&path, &query) {
        Answer::One(doc) => doc,
        Answer::List(items) => page(&items, &arm.options, &base, &path, &query),
        Answer::NotFound { code, message } => {
            Stats::bump(&arm.stats.not_found);
            return error(StatusCode::NOT_FOUND, code, &message);
        }
        Answer::BadRequest { code, message } => return error(StatusCode::BAD_REQUEST, code, &message),
    };
    let mut bytes = serde_json::to_vec(&body).expect("JSON values serialise");
    if fault == Some(Fault::Truncated) {
        Stats::bump(&arm.stats.truncated);
        bytes.truncate(bytes.len() / 2);
    } else {
        Stats::bump(&arm.stats.ok);
    }
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    if let Some(left) = remaining {
        headers.insert("x-ms-ratelimit-remaining-subscription-reads", HeaderValue::from(left));
    }
    response
}

/// One page of `items`, with a `nextLink` that repeats the query (api-version,
/// $filter) and moves `$skiptoken` on.
fn page(items: &[Value], options: &Options, base: &str, path: &str, query: &[(String, String)]) -> Value {
    let token = query.iter().find(|(k, _)| k.eq_ignore_ascii_case("$skiptoken")).map(|(_, v)| v.as_str());
    let (start, empty) = match token {
        None if options.empty_first_page => (0, true),
        None => (0, false),
        Some(t) => (t.parse::<usize>().unwrap_or(0), false),
    };
    let size = options.page_size.max(1);
    let (records, next) = if empty {
        (&items[0..0], Some(0))
    } else {
        let end = (start + size).min(items.len());
        (&items[start.min(end)..end], (end < items.len()).then_some(end))
    };
    let mut doc = json!({ "value": records });
    if let Some(next) = next {
        let mut link = form_urlencoded::Serializer::new(String::new());
        for (k, v) in query.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken")) {
            link.append_pair(k, v);
        }
        link.append_pair("$skiptoken", &next.to_string());
        doc["nextLink"] = Value::String(format!("{base}{path}?{}", link.finish()));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_the_query_forward_and_end_without_a_next_link() {
        let items: Vec<Value> = (0..5).map(|i| json!({"i": i})).collect();
        let options = Options { page_size: 2, empty_first_page: true, ..Default::default() };
        let q = vec![
            ("api-version".to_string(), "2022-04-01".to_string()),
            ("$filter".to_string(), "atScope()".to_string()),
        ];
        let first = page(&items, &options, "http://h", "/x", &q);
        assert_eq!(first["value"], json!([]));
        assert_eq!(first["nextLink"], "http://h/x?api-version=2022-04-01&%24filter=atScope%28%29&%24skiptoken=0");
        let mut q2 = q.clone();
        q2.push(("$skiptoken".into(), "4".into()));
        let last = page(&items, &options, "http://h", "/x", &q2);
        assert_eq!(last["value"], json!([{"i": 4}]));
        assert!(last.get("nextLink").is_none());
    }
}
