//! Who may do what (SPEC §7 "Security").
//!
//! - Every request must name a served host in `Host` (see [`crate::config::Settings::allows_host`]):
//!   a page on another site that re-points its own DNS name at this address (DNS rebinding)
//!   names *its* host, and is refused before anything else — on loopback without a token too.
//! - With `ADMIN_TOKEN` set, every route but `/health`, `/login` and `/static/*` needs either
//!   `Authorization: Bearer <token>` (scripts) or the session cookie the login form sets
//!   (browsers). Sessions live in the database (`shared::db::sessions`): logging out ends one at
//!   once, a changed token ends them all, and several frontends on one database share them.
//!   Wrong tokens are throttled ([`crate::throttle`]).
//! - Without it the service only listens on loopback (see `config`), and everything is open.
//! - Cross-site requests that change something are refused, token or not: browsers mark them with
//!   `Sec-Fetch-Site` and `Origin`, scripts send neither; an `Origin` must name a served host.
//!   With the `SameSite=Strict` cookie this is the CSRF defence for every form and every `fetch`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use shared::db::sessions;

use crate::config::Settings;
use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "lu_session";
const SESSION_SECONDS: i64 = 12 * 60 * 60;

/// Routes anyone may reach.
fn is_public(path: &str) -> bool {
    path == "/health" || path == "/login" || path.starts_with("/static/")
}

/// Routes that answer JSON (401 instead of a redirect to the login page).
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/litellm/") || path == "/sync" || path == "/metrics"
}

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(refusal) = host_refusal(&state.settings, request.headers()) {
        return refusal;
    }
    if let Some(refusal) = cross_site_refusal(&state.settings, request.method(), request.headers()) {
        return ApiError::new(StatusCode::FORBIDDEN, refusal).into_response();
    }
    let path = request.uri().path();
    if is_public(path) {
        return next.run(request).await;
    }
    match authorize(&state, client_address(&request), request.headers()).await {
        Access::Granted => return next.run(request).await,
        Access::Throttled(wait) => return too_many_attempts(wait),
        Access::Failed(error) => return ApiError::from(error).into_response(),
        Access::Denied => {}
    }
    if is_api(path) {
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication required: send Authorization: Bearer <ADMIN_TOKEN>",
        )
        .into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let next_path = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target = url::form_urlencoded::Serializer::new(String::new()).append_pair("next", next_path).finish();
    Redirect::to(&format!("/login?{target}")).into_response()
}

/// 421 unless `Host` names a served host. `/health` is no exception: the container probe
/// (`litellm-frontend health`) sends `Host: localhost`.
fn host_refusal(settings: &Settings, headers: &HeaderMap) -> Option<Response> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if settings.allows_host(host) {
        return None;
    }
    let detail = if host.is_empty() {
        "a Host header is required".to_owned()
    } else {
        format!(
            "this service does not answer for host {:?}: if that is one of its names, add it to \
             ALLOWED_HOSTS (--allowed-host) of litellm-frontend",
            host.chars().take(100).collect::<String>()
        )
    };
    Some(ApiError::new(StatusCode::MISDIRECTED_REQUEST, detail).into_response())
}

/// The outcome of looking for the admin credential on a request.
pub enum Access {
    Granted,
    Denied,
    Throttled(Duration),
    Failed(shared::DbError),
}

/// The address the request came from (the peer of the TCP connection; unspecified in-process).
pub fn client_address(request: &Request) -> IpAddr {
    peer(request.extensions())
}

fn peer(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// [`client_address`] as an extractor.
pub struct ClientAddress(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(peer(&parts.extensions)))
    }
}

/// Whether the request carries the admin credential (always granted when none is configured).
pub async fn authorize(state: &AppState, client: IpAddr, headers: &HeaderMap) -> Access {
    let Some(token) = &state.settings.admin_token else { return Access::Granted };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    if let Some(candidate) = bearer {
        if let Err(wait) = state.throttle.check(client) {
            return Access::Throttled(wait);
        }
        if token_matches(token.expose(), candidate.trim()) {
            return Access::Granted;
        }
        state.throttle.failed(client);
        tracing::warn!(%client, "request refused: wrong bearer token");
        return Access::Denied;
    }
    let Some(id) = cookie(headers, SESSION_COOKIE) else { return Access::Denied };
    match sessions::is_valid(&state.db, &id, &sessions::token_fingerprint(token.expose()), now()).await {
        Ok(true) => Access::Granted,
        Ok(false) => Access::Denied,
        Err(error) => Access::Failed(error),
    }
}

/// 429 with `Retry-After`, as JSON (pages show the login form's own message instead).
pub fn too_many_attempts(wait: Duration) -> Response {
    let seconds = wait.as_secs().max(1);
    let mut response =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, format!("too many wrong admin tokens; try again in {seconds} s"))
            .into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Compares digests, so the time taken says nothing about how much of the token matched.
pub fn token_matches(token: &str, candidate: &str) -> bool {
    let (a, b) = (Sha256::digest(token.as_bytes()), Sha256::digest(candidate.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Opens a session and answers the `Set-Cookie` value that carries it (`None` without a token).
/// The cookie is `Secure` when configured or when the login came over HTTPS (a proxy's
/// `X-Forwarded-Proto` / `Forwarded` says so).
pub async fn open_session(state: &AppState, headers: &HeaderMap) -> Result<Option<String>, shared::DbError> {
    let Some(token) = state.settings.admin_token.as_ref() else { return Ok(None) };
    let id = sessions::new_id();
    let now = now();
    sessions::create(&state.db, &id, &sessions::token_fingerprint(token.expose()), now + SESSION_SECONDS, now).await?;
    let secure = if state.settings.secure_cookies || came_over_https(headers) { "; Secure" } else { "" };
    Ok(Some(format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}{secure}")))
}

/// Ends the request's session, if it has one.
pub async fn close_session(state: &AppState, headers: &HeaderMap) -> Result<(), shared::DbError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(id) => sessions::delete(&state.db, &id).await,
        None => Ok(()),
    }
}

/// `X-Forwarded-Proto: https` or `Forwarded: ...;proto=https` (RFC 7239).
fn came_over_https(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|proto| proto.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get_all(header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(key, value)| {
            key.trim().eq_ignore_ascii_case("proto") && value.trim().trim_matches('"').eq_ignore_ascii_case("https")
        });
    forwarded_proto || forwarded
}

/// The `Set-Cookie` value that logs a browser out.
pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Where to go after logging in: only a path on this site. It must start with a single `/`, and
/// neither it nor its percent-decoding may hold `//` at the start, a backslash, a control
/// character or anything but printable ASCII (browsers read `/\t/evil` as `//evil`).
pub fn safe_next(next: Option<&str>) -> &str {
    let Some(path) = next else { return "/" };
    let printable = |text: &str| text.chars().all(|c| c.is_ascii_graphic());
    let local = |text: &str| text.starts_with('/') && !text.starts_with("//") && !text.contains('\\');
    let decoded = percent_decode(path);
    if printable(path) && local(path) && !decoded.chars().any(char::is_control) && local(&decoded) {
        // `/%2F/evil` decodes to `//evil`: refused by `local(&decoded)` above.
        path
    } else {
        "/"
    }
}

/// `%XX` sequences decoded (invalid UTF-8 replaced), repeatedly, so double encoding hides nothing.
fn percent_decode(text: &str) -> String {
    let mut current = text.to_owned();
    for _ in 0..3 {
        let decoded = percent_encoding::percent_decode_str(&current).decode_utf8_lossy().into_owned();
        if decoded == current {
            break;
        }
        current = decoded;
    }
    current
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Why a state-changing request from another site is refused, if it is.
fn cross_site_refusal(settings: &Settings, method: &Method, headers: &HeaderMap) -> Option<&'static str> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if fetch_site.is_some_and(|site| !matches!(site, "same-origin" | "none")) {
        return Some("cross-site request refused");
    }
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => None,
        Some(Ok(origin)) => {
            // Compared with the served names, not with `Host`: a rebinding page's `Origin` and
            // `Host` agree with each other, both naming the attacker's host.
            let origin_host = url::Url::parse(origin).ok().and_then(|u| u.host_str().map(str::to_owned));
            (!origin_host.is_some_and(|h| settings.allows_host(&h))).then_some("cross-site request refused")
        }
        Some(Err(_)) => Some("cross-site request refused"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")));
        }
        map
    }

    fn settings() -> Settings {
        Settings::new(std::path::PathBuf::from("x.db"), SocketAddr::from(([127, 0, 0, 1], 8000)), None)
    }

    #[test]
    fn cross_site_writes_are_refused_and_scripts_are_not() {
        let (post, s) = (Method::POST, settings());
        assert_eq!(cross_site_refusal(&s, &post, &headers(&[])), None, "curl sends neither header");
        assert_eq!(cross_site_refusal(&s, &post, &headers(&[("sec-fetch-site", "same-origin")])), None);
        assert!(cross_site_refusal(&s, &post, &headers(&[("sec-fetch-site", "cross-site")])).is_some());
        assert!(cross_site_refusal(&s, &post, &headers(&[("sec-fetch-site", "same-site")])).is_some());
        let same = headers(&[("origin", "http://127.0.0.1:8000"), ("host", "127.0.0.1:8000")]);
        assert_eq!(cross_site_refusal(&s, &post, &same), None);
        let evil = headers(&[("origin", "http://evil.example"), ("host", "127.0.0.1:8000")]);
        assert!(cross_site_refusal(&s, &post, &evil).is_some());
        let rebound = headers(&[("origin", "http://rebind.evil.example:8000"), ("host", "rebind.evil.example:8000")]);
        assert!(cross_site_refusal(&s, &post, &rebound).is_some(), "Origin equal to Host is not enough");
        assert!(cross_site_refusal(&s, &post, &headers(&[("origin", "null")])).is_some());
        assert_eq!(cross_site_refusal(&s, &Method::GET, &evil), None, "reads are not writes");
    }

    #[test]
    fn only_served_hosts_are_answered() {
        let s = settings();
        assert!(host_refusal(&s, &headers(&[("host", "localhost:8000")])).is_none());
        for host in [("host", "rebind.evil.example:8000"), ("host", "")] {
            let refusal = host_refusal(&s, &headers(&[host])).expect("refused");
            assert_eq!(refusal.status(), StatusCode::MISDIRECTED_REQUEST);
        }
        assert!(host_refusal(&s, &HeaderMap::new()).is_some(), "no Host at all");
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        for local in ["/models?page=2", "/", "/models/3", "/models?q=a%20b"] {
            assert_eq!(safe_next(Some(local)), local);
        }
        for hostile in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "",
            "/\t/evil",
            "/%09/evil",
            "/%2F/evil",
            "/%5Cevil",
            "/%252F/evil",
            "/a\r\nSet-Cookie: x=1",
            "/%0d%0aSet-Cookie:%20x=1",
            "/a\0b",
            "/%00",
            "/caf\u{e9}",
            "models",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn https_is_recognised_from_proxy_headers() {
        assert!(came_over_https(&headers(&[("x-forwarded-proto", "https")])));
        assert!(came_over_https(&headers(&[("x-forwarded-proto", "HTTPS, http")])));
        assert!(came_over_https(&headers(&[("forwarded", "for=1.2.3.4;proto=https;host=x")])));
        assert!(came_over_https(&headers(&[("forwarded", "proto=\"https\"")])));
        assert!(!came_over_https(&headers(&[("x-forwarded-proto", "http")])));
        assert!(!came_over_https(&headers(&[])));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let map = headers(&[("cookie", "a=1; lu_session=2.abc"), ("cookie", "b=3")]);
        assert_eq!(cookie(&map, SESSION_COOKIE).as_deref(), Some("2.abc"));
        assert_eq!(cookie(&map, "b").as_deref(), Some("3"));
        assert_eq!(cookie(&map, "c"), None);
    }
}
