//! `litellm-sync render-config`: the deployments a push would hold, as a LiteLLM `config.yaml`.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use shared::Database;
use shared::db::{config, models, providers, routing};
use shared::desired;
use shared::render::{self, RenderedConfig, SecretStyle};

/// Reads the database and renders its desired state; nothing is written to it.
pub async fn render(db: &Database, style: SecretStyle) -> anyhow::Result<RenderedConfig> {
    let config = config::get(db).await?;
    let providers = providers::list(db).await?;
    let models = models::list_all(db).await?;
    let routing = routing::load(db).await?;
    let state = desired::build(&config, &providers, &models, &routing, &mut render::stable_id);
    drop(models);
    Ok(render::litellm_config(state, &providers, style))
}

/// Writes `yaml` to `path` through a temporary file beside it, so a reader (or a LiteLLM
/// restarting) never sees half a file; readable by the owner only when it holds keys.
pub fn write_file(path: &Path, yaml: &str, holds_secrets: bool) -> anyhow::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    if !holds_secrets {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.write_all(yaml.as_bytes())?;
    file.as_file().sync_all()?;
    file.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
