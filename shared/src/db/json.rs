//! A value kept as JSON text in a TEXT column, the same on SQLite and PostgreSQL (sqlx's own
//! `Json` wants a JSON/JSONB column on PostgreSQL).

use std::ops::{Deref, DerefMut};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Json<T>(pub T);

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> AsRef<T> for Json<T> {
    fn as_ref(&self) -> &T {
        &self.0
    }
}

impl<T, DB: sqlx::Database> sqlx::Type<DB> for Json<T>
where
    String: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as sqlx::Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'r, T: DeserializeOwned, DB: sqlx::Database> sqlx::Decode<'r, DB> for Json<T>
where
    &'r str: sqlx::Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
        Ok(Self(serde_json::from_str(text)?))
    }
}

impl<'q, T: Serialize, DB: sqlx::Database> sqlx::Encode<'q, DB> for Json<T>
where
    String: sqlx::Encode<'q, DB>,
{
    fn encode_by_ref(&self, buf: &mut <DB as sqlx::Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <String as sqlx::Encode<'q, DB>>::encode(serde_json::to_string(&self.0)?, buf)
    }
}
