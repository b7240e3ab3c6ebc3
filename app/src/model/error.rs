//! The error every server function returns, carried to the browser as JSON.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a server function can answer instead of a value. The server sets the
/// matching HTTP status (401, 403, 404, 409, 422, 429, 500, 503).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    Unauthorized,
    Forbidden,
    NotFound(String),
    Conflict(String),
    Invalid {
        field: String,
        message: String,
    },
    Throttled {
        retry_after_secs: u64,
    },
    /// Too many requests of this kind are waiting (sign-ins for a password
    /// check); nothing was counted against the visitor.
    Busy {
        retry_after_secs: u64,
    },
    BadCredentials,
    /// The request itself could not be read (a missing or malformed field,
    /// a body that is not UTF-8 form data).
    BadRequest(String),
    /// The request body is over the limit.
    TooLarge,
    Internal,
    /// The request itself failed (network, encoding).
    Transport(String),
}

impl AppError {
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized | AppError::BadCredentials => 401,
            AppError::Forbidden => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Invalid { .. } => 422,
            AppError::Throttled { .. } => 429,
            AppError::Busy { .. } => 503,
            AppError::BadRequest(_) => 400,
            AppError::TooLarge => 413,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Unauthorized => f.write_str("Please sign in."),
            AppError::Forbidden => f.write_str("Your roles do not allow this."),
            AppError::NotFound(what) => write!(f, "Not found: {what}."),
            AppError::Conflict(why) => write!(f, "{why}."),
            AppError::Invalid { field, message } => write!(f, "{field}: {message}."),
            AppError::Throttled { retry_after_secs } => {
                write!(f, "Too many failed attempts. Try again in {} minutes.", retry_after_secs.div_ceil(60))
            }
            AppError::Busy { retry_after_secs } => {
                write!(f, "The portal is busy signing others in. Try again in {retry_after_secs} seconds.")
            }
            AppError::BadCredentials => f.write_str("Wrong user name or password."),
            AppError::BadRequest(why) => write!(f, "The request could not be read: {why}."),
            AppError::TooLarge => f.write_str("The request is larger than the portal accepts."),
            AppError::Internal => f.write_str("Something went wrong on the server; it has been logged."),
            AppError::Transport(why) => write!(f, "The request failed: {why}"),
        }
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // On the server, these errors are about the request the browser (or
        // a script) sent: 4xx with what was wrong, never a 500 with serde's
        // wording. In the browser they are about the answer: a transport error.
        #[cfg(feature = "ssr")]
        {
            let request = match &value {
                ServerFnErrorErr::Args(m) | ServerFnErrorErr::Deserialization(m) if m.contains("length limit") => {
                    Some(AppError::TooLarge)
                }
                ServerFnErrorErr::Args(m) => Some(AppError::BadRequest(match m.split('`').nth(1) {
                    Some(field) if m.contains("missing field") => format!("the field `{field}` is missing"),
                    _ => format!("its fields do not have the expected form ({m})"),
                })),
                ServerFnErrorErr::MissingArg(field) => {
                    Some(AppError::BadRequest(format!("the field `{field}` is missing")))
                }
                ServerFnErrorErr::Deserialization(m) if m.contains("utf-8") || m.contains("UTF-8") => {
                    Some(AppError::BadRequest("its body is not UTF-8 text".into()))
                }
                ServerFnErrorErr::Deserialization(m) => Some(AppError::BadRequest(m.clone())),
                _ => None,
            };
            if let Some(err) = request {
                return crate::ssr::fail(err);
            }
        }
        AppError::Transport(value.to_string())
    }
}
