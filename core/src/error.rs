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
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type CoreResult<T> = Result<T, CoreError>;

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
            _ => CoreError::Database(err),
        }
    }
}
