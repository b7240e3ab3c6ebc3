//! Why a definition could not be evaluated.

/// A fault in a definition, its parameters or an expression. It becomes the
/// definition's `Error` state; it never stops other definitions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

impl PolicyError {
    pub fn new(message: impl Into<String>) -> Self {
        PolicyError(message.into())
    }
}

pub type Result<T> = std::result::Result<T, PolicyError>;

/// `Err(PolicyError)` with a formatted message.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => { return Err($crate::error::PolicyError(format!($($arg)*))) };
}
