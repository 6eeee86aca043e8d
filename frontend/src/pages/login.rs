//! `/login` and `/logout`: the admin token in exchange for a session cookie.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Chrome, PageError};
use crate::auth::{ClientAddress, clear_session_cookie, close_session, open_session, safe_next, token_matches};
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    chrome: Chrome,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

pub async fn form(State(state): State<AppState>, Query(query): Query<LoginQuery>) -> Response {
    if state.settings.admin_token.is_none() {
        return Redirect::to("/").into_response();
    }
    let next = safe_next(query.next.as_deref()).to_owned();
    LoginPage { chrome: Chrome::bare(&state, "/login", false), next, error: None }.into_response()
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientAddress(client): ClientAddress,
    Form(input): Form<LoginForm>,
) -> Response {
    let next = safe_next(input.next.as_deref()).to_owned();
    let Some(token) = &state.settings.admin_token else { return Redirect::to(&next).into_response() };
    let page = |error: String| LoginPage {
        chrome: Chrome::bare(&state, "/login", false),
        next: next.clone(),
        error: Some(error),
    };
    if let Err(wait) = state.throttle.check(client) {
        let seconds = wait.as_secs().max(1);
        tracing::warn!(%client, "login refused: too many wrong admin tokens");
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            page(format!("Too many wrong admin tokens. Try again in {seconds} seconds.")),
        )
            .into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    if token_matches(token.expose(), input.token.trim()) {
        return match open_session(&state, &headers).await {
            Ok(Some(cookie)) => ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response(),
            Ok(None) => Redirect::to(&next).into_response(),
            Err(error) => PageError::from(error).into_response(),
        };
    }
    state.throttle.failed(client);
    tracing::warn!(%client, "login refused: wrong admin token");
    let error = "That is not the admin token. Check ADMIN_TOKEN (or ADMIN_TOKEN_FILE) of litellm-frontend.";
    (StatusCode::UNAUTHORIZED, page(error.into())).into_response()
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(error) = close_session(&state, &headers).await {
        return PageError::from(error).into_response();
    }
    let to = if state.settings.admin_token.is_some() { "/login" } else { "/" };
    ([(header::SET_COOKIE, clear_session_cookie())], Redirect::to(to)).into_response()
}
