//! `/login` and `/logout`: the admin token in exchange for a session cookie.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::Chrome;
use crate::auth::{clear_session_cookie, safe_next, session_cookie, token_matches};
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

pub async fn submit(State(state): State<AppState>, Form(input): Form<LoginForm>) -> Response {
    let next = safe_next(input.next.as_deref()).to_owned();
    let Some(token) = &state.settings.admin_token else { return Redirect::to(&next).into_response() };
    if token_matches(token.expose(), input.token.trim())
        && let Some(cookie) = session_cookie(&state)
    {
        return ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response();
    }
    tracing::warn!("login refused: wrong admin token");
    let page = LoginPage {
        chrome: Chrome::bare(&state, "/login", false),
        next,
        error: Some("That is not the admin token. Check ADMIN_TOKEN (or ADMIN_TOKEN_FILE) of litellm-frontend.".into()),
    };
    (StatusCode::UNAUTHORIZED, page).into_response()
}

pub async fn logout(State(state): State<AppState>) -> Response {
    let to = if state.settings.admin_token.is_some() { "/login" } else { "/" };
    ([(header::SET_COOKIE, clear_session_cookie())], Redirect::to(to)).into_response()
}
