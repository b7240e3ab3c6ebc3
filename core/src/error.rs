//! The one error type of the domain layer, and how its variants read.

use thiserror::Error;

/// What can go wrong in the domain layer. Variants map one-to-one onto HTTP
/// statuses at the edge (404, 409, 422, 403, 429, 500).
#[derive(Debug, Error)]
pub enum CoreError {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// Input that does not have the expected shape, with where in it.
    #[error("{path}: {message}")]
    InvalidAt { path: String, message: String },
    #[error("too large: the limit is {limit} bytes")]
    TooLarge { limit: usize },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type CoreResult<T> = Result<T, CoreError>;

impl From<sqlx::Error> for CoreError {
    /// Input PostgreSQL refuses to store is the caller's mistake, not the
    /// server's: a NUL character in text (SQLSTATE 22021) or in JSON
    /// (22P05), a number out of range (22003), a limit or offset out of
    /// range (2201W, 2201X). Everything else is a database error.
    fn from(err: sqlx::Error) -> Self {
        let code = match &err {
            sqlx::Error::Database(db) => db.code().map(|c| c.to_string()),
            _ => None,
        };
        match code.as_deref() {
            Some("22021") | Some("22P05") => {
                CoreError::invalid("text", "contains a NUL character (\\0), which cannot be stored")
            }
            Some("22003") => CoreError::invalid("number", "is out of range"),
            Some("2201W") | Some("2201X") => CoreError::invalid("page", "is out of range"),
            _ => CoreError::Database(err),
        }
    }
}

impl CoreError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        CoreError::Invalid { field, message: message.into() }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        CoreError::NotFound { what: what.into() }
    }

    /// Maps a unique-constraint violation to a conflict, so callers answer 409
    /// instead of a generic 500.
    pub fn from_unique(err: sqlx::Error, constraint: &str, message: impl Into<String>) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.constraint() == Some(constraint) => CoreError::Conflict(message.into()),
            _ => CoreError::from(err),
        }
    }
}
