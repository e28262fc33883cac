//! The plugin's error: the HDF5 minor error class it is reported under (major class
//! `H5E_PLINE`) and a message for the user.

use std::fmt;

/// Minor error class of a plugin error on HDF5's error stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Minor {
    CantFilter,
    BadType,
    BadValue,
}

/// A failure of the plugin (a filter callback, registration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    minor: Minor,
    message: String,
}

impl Error {
    pub(crate) fn new(minor: Minor, message: impl Into<String>) -> Self {
        Error {
            minor,
            message: message.into(),
        }
    }
    /// The HDF5 minor error class the plugin reports this under.
    pub fn minor(&self) -> Minor {
        self.minor
    }
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// `Err` of a new [`Error`].
pub(crate) fn fail<T>(minor: Minor, message: impl Into<String>) -> Result<T, Error> {
    Err(Error::new(minor, message))
}
