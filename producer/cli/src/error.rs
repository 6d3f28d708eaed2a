//! How a run fails: bad input (exit 2), a failure while running (exit 1), or
//! a stop by signal (128 + signal number, as shells report it).

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Flags, environment, config file: the user must change the command.
    #[error("{0}")]
    Usage(String),
    /// I/O and sink failures while running.
    #[error("{0}")]
    Runtime(String),
    /// Stopped by SIGINT, SIGTERM or SIGHUP after finishing deliveries in
    /// flight.
    #[error("interrupted by {signal}: {detail}")]
    Interrupted {
        signal: &'static str,
        detail: String,
    },
    /// The reader of stdout went away (`--sink stdout | head`).
    #[error("{0}")]
    Closed(String),
}

impl Error {
    pub(crate) fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }
    pub(crate) fn runtime(msg: impl Into<String>) -> Self {
        Error::Runtime(msg.into())
    }
    pub(crate) fn interrupted(signal: &'static str, detail: impl Into<String>) -> Self {
        Error::Interrupted {
            signal,
            detail: detail.into(),
        }
    }
    /// The same error with ` (detail)` after its message.
    pub(crate) fn with_detail(self, detail: impl std::fmt::Display) -> Self {
        match self {
            Error::Usage(m) => Error::Usage(format!("{m} ({detail})")),
            Error::Runtime(m) => Error::Runtime(format!("{m} ({detail})")),
            Error::Interrupted { signal, detail: d } => Error::Interrupted {
                signal,
                detail: format!("{d} ({detail})"),
            },
            Error::Closed(m) => Error::Closed(format!("{m} ({detail})")),
        }
    }

    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Runtime(_) => 1,
            Error::Interrupted { signal, .. } => match *signal {
                "SIGHUP" => 129,
                "SIGTERM" => 143,
                _ => 130,
            },
            Error::Closed(_) => i32::from(crate::console::CLOSED_STDOUT),
        }
    }
}

impl From<marketpulse_capacity::Error> for Error {
    fn from(e: marketpulse_capacity::Error) -> Self {
        match e {
            marketpulse_capacity::Error::Usage(m) => Error::Usage(m),
            marketpulse_capacity::Error::Runtime(m) => Error::Runtime(m),
        }
    }
}
