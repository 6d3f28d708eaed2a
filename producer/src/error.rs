//! How a run fails: bad input (exit 2), a failure while running (exit 1), or
//! a stop by signal (128 + signal number, as shells report it).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Flags, environment, config file: the user must change the command.
    #[error("{0}")]
    Usage(String),
    /// I/O and sink failures while running.
    #[error("{0}")]
    Runtime(String),
    /// Stopped by SIGINT or SIGTERM after finishing deliveries in flight.
    #[error("interrupted by {signal}: {detail}")]
    Interrupted {
        signal: &'static str,
        detail: String,
    },
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }
    pub fn runtime(msg: impl Into<String>) -> Self {
        Error::Runtime(msg.into())
    }
    pub fn interrupted(signal: &'static str, detail: impl Into<String>) -> Self {
        Error::Interrupted {
            signal,
            detail: detail.into(),
        }
    }
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Runtime(_) => 1,
            Error::Interrupted { signal, .. } if *signal == "SIGTERM" => 143,
            Error::Interrupted { .. } => 130,
        }
    }
}
