//! `/pricing`: pricing profiles (built-in read-only, the operator's editable), each provider's
//! profile, rate limits and fill-in-the-middle detection, a model's profile, and `/migration`:
//! what adopting the Python tool's database kept, converted and changed.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use shared::db::pricing_settings::{self, AdoptionNoteRow, ProviderPricing};
use shared::db::{config, providers};
use shared::pricing::Profile;
use shared::types::ProviderType;

use super::form;
use super::view::Badge;
use super::{Chrome, PageError, PageResult};
use crate::api::pricing::{ProfileView, profile_views};
use crate::state::AppState;

pub struct ProviderRow {
    id: i64,
    name: String,
    profiles: Vec<(String, bool)>,
    rpm: String,
    tpm: String,
    auto_detect_fim: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    name: String,
    input_cost_per_token: String,
    output_cost_per_token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pricing.html")]
pub struct PricingPage {
    chrome: Chrome,
    profiles: Vec<ProfileView>,
    providers: Vec<ProviderRow>,
    form: ProfileForm,
    error: Option<String>,
}

/// `(name, selected)` for a profile select, with `""` (none) first.
pub fn profile_choices(profiles: &[ProfileView], current: Option<&str>) -> Vec<(String, bool)> {
    let mut choices = vec![(String::new(), current.is_none())];
    choices.extend(profiles.iter().map(|p| (p.name.clone(), current == Some(p.name.as_str()))));
    choices
}

async fn render(state: &AppState, chrome: Chrome, form: ProfileForm, error: Option<String>) -> PageResult<PricingPage> {
    let profiles = profile_views(&config::pricing_profiles(&state.db).await?);
    let providers = providers::list(&state.db)
        .await?
        .into_iter()
        .filter(|p| p.kind != ProviderType::Compat)
        .map(|p| ProviderRow {
            id: p.id,
            profiles: profile_choices(&profiles, p.pricing_profile.as_deref()),
            name: p.name,
            rpm: p.rpm.map(|v| v.to_string()).unwrap_or_default(),
            tpm: p.tpm.map(|v| v.to_string()).unwrap_or_default(),
            auto_detect_fim: p.auto_detect_fim,
        })
        .collect();
    Ok(PricingPage { chrome, profiles, providers, form, error })
}

pub async fn page(State(state): State<AppState>, chrome: Chrome) -> PageResult<PricingPage> {
    render(&state, chrome, ProfileForm::default(), None).await
}

pub async fn save_profile(
    State(state): State<AppState>,
    chrome: Chrome,
    Form(input): Form<ProfileForm>,
) -> PageResult<Response> {
    let costs = form::opt_cost("input cost per token", &input.input_cost_per_token)
        .and_then(|i| form::opt_cost("output cost per token", &input.output_cost_per_token).map(|o| (i, o)));
    let error = match costs {
        Ok((Some(input_cost_per_token), Some(output_cost_per_token))) => {
            let profile = Profile { name: input.name.clone(), input_cost_per_token, output_cost_per_token };
            match pricing_settings::upsert_profile(&state.db, &profile).await {
                Ok(_) => None,
                Err(error) => Some(form::message(error)?),
            }
        }
        Ok(_) => Some("a profile needs both an input and an output cost per token".to_owned()),
        Err(error) => Some(error),
    };
    match error {
        None => Ok(Redirect::to("/pricing?notice=profile-saved").into_response()),
        Some(error) => Ok(form::refused(render(&state, chrome, input, Some(error)).await?)),
    }
}

pub async fn delete_profile(State(state): State<AppState>, Path(name): Path<String>) -> PageResult<Redirect> {
    if !pricing_settings::delete_profile(&state.db, &name).await? {
        return Err(PageError::not_found(format!("no pricing profile {name} of yours (built-in profiles stay)")));
    }
    Ok(Redirect::to("/pricing?notice=profile-deleted"))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProviderPricingForm {
    pricing_profile: String,
    rpm: String,
    tpm: String,
    auto_detect_fim: Option<String>,
}

pub async fn save_provider(
    State(state): State<AppState>,
    chrome: Chrome,
    Path(id): Path<i64>,
    Form(input): Form<ProviderPricingForm>,
) -> PageResult<Response> {
    let limits =
        form::opt_int("rpm", &input.rpm).and_then(|rpm| form::opt_int("tpm", &input.tpm).map(|tpm| (rpm, tpm)));
    let error = match limits {
        Ok((rpm, tpm)) => {
            let settings = ProviderPricing {
                pricing_profile: Some(form::text(&input.pricing_profile)),
                rpm: Some(rpm),
                tpm: Some(tpm),
                auto_detect_fim: Some(form::checked(&input.auto_detect_fim)),
            };
            match pricing_settings::set_provider_pricing(&state.db, id, &settings).await {
                Ok(true) => None,
                Ok(false) => return Err(PageError::not_found(format!("no provider {id}"))),
                Err(error) => Some(form::message(error)?),
            }
        }
        Err(error) => Some(error),
    };
    match error {
        None => Ok(Redirect::to("/pricing?notice=pricing-saved").into_response()),
        Some(error) => Ok(form::refused(render(&state, chrome, ProfileForm::default(), Some(error)).await?)),
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ModelProfileForm {
    pricing_profile: String,
}

pub async fn save_model(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(input): Form<ModelProfileForm>,
) -> PageResult<Redirect> {
    if !pricing_settings::set_model_profile(&state.db, id, form::text(&input.pricing_profile).as_deref()).await? {
        return Err(PageError::not_found(format!("model {id} does not exist")));
    }
    Ok(Redirect::to(&format!("/models/{id}?notice=pricing-saved")))
}

pub struct NoteRow {
    badge: Badge,
    subject: String,
    note: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "migration.html")]
pub struct MigrationPage {
    chrome: Chrome,
    notes: Vec<NoteRow>,
}

fn note_row(note: AdoptionNoteRow) -> NoteRow {
    let badge = match note.outcome.as_str() {
        "kept" => Badge::new("ok", "kept"),
        "converted" => Badge::new("info", "converted"),
        _ => Badge::new("warn", "changed"),
    };
    NoteRow { badge, subject: note.subject, note: note.note }
}

pub async fn migration(State(state): State<AppState>, chrome: Chrome) -> PageResult<MigrationPage> {
    let notes = pricing_settings::adoption_notes(&state.db).await?.into_iter().map(note_row).collect();
    Ok(MigrationPage { chrome, notes })
}
