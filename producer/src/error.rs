//! The two ways a run fails: bad input (exit 2) or a failure while running (exit 1).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Flags, environment, config file: the user must change the command.
    #[error("{0}")]
    Usage(String),
    /// I/O and sink failures while running.
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }
    pub fn runtime(msg: impl Into<String>) -> Self {
        Error::Runtime(msg.into())
    }
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Runtime(_) => 1,
        }
    }
}
