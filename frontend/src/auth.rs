//! Who may do what (SPEC §7 "Security").
//!
//! - With `ADMIN_TOKEN` set, every route but `/health`, `/login` and `/static/*` needs either
//!   `Authorization: Bearer <token>` (scripts) or the session cookie the login form sets (browsers).
//!   The cookie is `<expiry>.<HMAC-SHA256(token, expiry)>`: no server-side state, and changing the
//!   token logs everyone out.
//! - Without it the service only listens on loopback (see `config`), and everything is open.
//! - Cross-site requests that change something are refused, token or not: browsers mark them with
//!   `Sec-Fetch-Site` and `Origin`, scripts send neither. With the `SameSite=Strict` cookie this is
//!   the CSRF defence for every form and every `fetch`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

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
    if let Some(refusal) = cross_site_refusal(request.method(), request.headers()) {
        return ApiError::new(StatusCode::FORBIDDEN, refusal).into_response();
    }
    let path = request.uri().path();
    if is_public(path) || is_authorized(&state, request.headers()) {
        return next.run(request).await;
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

/// Whether the request carries the admin credential (always true when none is configured).
pub fn is_authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = &state.settings.admin_token else { return true };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    if bearer.is_some_and(|candidate| token_matches(token.expose(), candidate.trim())) {
        return true;
    }
    cookie(headers, SESSION_COOKIE).is_some_and(|value| session_is_valid(token.expose(), &value, now()))
}

/// Compares digests, so the time taken says nothing about how much of the token matched.
pub fn token_matches(token: &str, candidate: &str) -> bool {
    let (a, b) = (Sha256::digest(token.as_bytes()), Sha256::digest(candidate.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Set-Cookie` value that logs a browser in.
pub fn session_cookie(state: &AppState) -> Option<String> {
    let token = state.settings.admin_token.as_ref()?;
    let expires = now() + SESSION_SECONDS;
    let secure = if state.settings.secure_cookies { "; Secure" } else { "" };
    Some(format!(
        "{SESSION_COOKIE}={expires}.{}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}{secure}",
        sign(token.expose(), expires)
    ))
}

/// The `Set-Cookie` value that logs a browser out.
pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Where to go after logging in: only a path on this site (`/x`, never `//evil.example`).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path,
        _ => "/",
    }
}

fn sign(token: &str, expires: i64) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(token.as_bytes()) else { return String::new() };
    mac.update(format!("lu-session:{expires}").as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn session_is_valid(token: &str, value: &str, now: i64) -> bool {
    let Some((expires, signature)) = value.split_once('.') else { return false };
    let Ok(expires) = expires.parse::<i64>() else { return false };
    expires > now && token_matches(&sign(token, expires), signature)
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
fn cross_site_refusal(method: &Method, headers: &HeaderMap) -> Option<&'static str> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if fetch_site.is_some_and(|site| !matches!(site, "same-origin" | "none")) {
        return Some("cross-site request refused");
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some("null"), _) => Some("cross-site request refused"),
        (Some(origin), Some(host)) => {
            let origin_host = url::Url::parse(origin).ok().map(|u| match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                _ => String::new(),
            });
            (origin_host.as_deref() != Some(host)).then_some("cross-site request refused")
        }
        _ => None,
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

    #[test]
    fn sessions_expire_and_are_bound_to_the_token() {
        let value = format!("{}.{}", 2000, sign("tok", 2000));
        assert!(session_is_valid("tok", &value, 1999));
        assert!(!session_is_valid("tok", &value, 2000), "expired");
        assert!(!session_is_valid("other", &value, 1999), "token changed");
        assert!(!session_is_valid("tok", &format!("3000.{}", sign("tok", 2000)), 1999), "expiry tampered");
        assert!(!session_is_valid("tok", "garbage", 0));
    }

    #[test]
    fn cross_site_writes_are_refused_and_scripts_are_not() {
        let post = Method::POST;
        assert_eq!(cross_site_refusal(&post, &headers(&[])), None, "curl sends neither header");
        assert_eq!(cross_site_refusal(&post, &headers(&[("sec-fetch-site", "same-origin")])), None);
        assert!(cross_site_refusal(&post, &headers(&[("sec-fetch-site", "cross-site")])).is_some());
        assert!(cross_site_refusal(&post, &headers(&[("sec-fetch-site", "same-site")])).is_some());
        let same = headers(&[("origin", "http://127.0.0.1:8000"), ("host", "127.0.0.1:8000")]);
        assert_eq!(cross_site_refusal(&post, &same), None);
        let evil = headers(&[("origin", "http://evil.example"), ("host", "127.0.0.1:8000")]);
        assert!(cross_site_refusal(&post, &evil).is_some());
        assert!(cross_site_refusal(&post, &headers(&[("origin", "null")])).is_some());
        assert_eq!(cross_site_refusal(&Method::GET, &evil), None, "reads are not writes");
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/models?page=2")), "/models?page=2");
        for hostile in ["//evil.example", "https://evil.example", "/\\evil.example", ""] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let map = headers(&[("cookie", "a=1; lu_session=2.abc"), ("cookie", "b=3")]);
        assert_eq!(cookie(&map, SESSION_COOKIE).as_deref(), Some("2.abc"));
        assert_eq!(cookie(&map, "b").as_deref(), Some("3"));
        assert_eq!(cookie(&map, "c"), None);
    }
}
