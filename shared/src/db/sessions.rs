//! `sessions`: the browser logins of litellm-frontend. The cookie carries a random id; the table
//! holds its SHA-256 only, the fingerprint of the admin token it was opened with, and an expiry.
//! Logging out deletes the row; a changed token matches no row.

use super::{Database, DbError, with_pool};
use sha2::{Digest, Sha256};

/// A new random session id (244 bits from the OS generator, hex), for the cookie only.
pub fn new_id() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

fn hash(id: &str) -> String {
    hex(&Sha256::digest(format!("lu-session-id:{id}").as_bytes()))
}

/// What is stored of the admin token: enough to tell that it changed, nothing to log in with.
pub fn token_fingerprint(token: &str) -> String {
    hex(&Sha256::digest(format!("lu-admin-token:{token}").as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores a session `id` opened with the token of `fingerprint`, valid until `expires_at` (Unix
/// seconds); sessions that have expired or belong to another token are dropped on the way.
pub async fn create(db: &Database, id: &str, fingerprint: &str, expires_at: i64, now: i64) -> Result<(), DbError> {
    const DROP: &str = "DELETE FROM sessions WHERE expires_at <= $1 OR token_fingerprint <> $2";
    const SQL: &str = "INSERT INTO sessions (id_hash, token_fingerprint, expires_at) VALUES ($1, $2, $3)";
    with_pool!(db, pool => {
        sqlx::query(DROP).bind(now).bind(fingerprint).execute(pool).await?;
        sqlx::query(SQL).bind(hash(id)).bind(fingerprint).bind(expires_at).execute(pool).await?;
    });
    Ok(())
}

/// Whether `id` is an open session of the token of `fingerprint` at `now`.
pub async fn is_valid(db: &Database, id: &str, fingerprint: &str, now: i64) -> Result<bool, DbError> {
    const SQL: &str = "SELECT COUNT(*) FROM sessions WHERE id_hash = $1 AND token_fingerprint = $2 AND expires_at > $3";
    let found: i64 = with_pool!(db, pool => sqlx::query_scalar(SQL)
        .bind(hash(id))
        .bind(fingerprint)
        .bind(now)
        .fetch_one(pool)
        .await?);
    Ok(found > 0)
}

/// Ends a session (logout). Unknown ids are no error.
pub async fn delete(db: &Database, id: &str) -> Result<(), DbError> {
    const SQL: &str = "DELETE FROM sessions WHERE id_hash = $1";
    with_pool!(db, pool => {
        sqlx::query(SQL).bind(hash(id)).execute(pool).await?;
    });
    Ok(())
}
