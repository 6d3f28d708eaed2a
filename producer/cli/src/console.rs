//! Writing to the terminal without panicking: a closed stdout ends the
//! process quietly (exit 141, as a shell reports SIGPIPE) and a closed
//! stderr is ignored, so `marketpulse profile --json | head -1` and
//! `marketpulse generate 2>&1 | head -c 0` end without a backtrace.

use std::io::Write;

/// The exit code of a process whose stdout reader went away.
pub(crate) const CLOSED_STDOUT: u8 = 141;

/// Writes `text` to stdout.
pub(crate) fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(i32::from(CLOSED_STDOUT));
        }
        err(&format!("marketpulse: cannot write to stdout: {e}\n"));
        std::process::exit(1);
    }
}

/// Writes `text` to stderr; errors are ignored.
pub(crate) fn err(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes()).and_then(|()| e.flush());
}

/// `eprintln!` that never panics.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::console::err(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use say;
