//! SIGINT, SIGTERM and SIGHUP (a closed terminal) stop a run gracefully:
//! the pipeline finishes what is in flight and writes its manifest. A
//! second signal exits at once.

use crate::console::say;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::runtime::Runtime;
use tokio::signal::unix::{SignalKind, signal};

/// The signal that stopped the run, if any.
pub(crate) struct Received(Arc<Mutex<Option<&'static str>>>);

impl Received {
    pub(crate) fn received(&self) -> Option<&'static str> {
        *self.0.lock().expect("signal lock")
    }
}

/// Sets `stop` on the first SIGINT or SIGTERM. The handlers are installed
/// before this returns, so a signal sent once the run has started is always
/// handled.
pub(crate) fn watch(runtime: &Runtime, stop: Arc<AtomicBool>) -> Received {
    let which = Arc::new(Mutex::new(None));
    let seen = which.clone();
    let _in_runtime = runtime.enter();
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return Received(which);
    };
    runtime.spawn(async move {
        for _ in 0..2 {
            let (name, code) = tokio::select! {
                _ = int.recv() => ("SIGINT", 130),
                _ = term.recv() => ("SIGTERM", 143),
                _ = hup.recv() => ("SIGHUP", 129),
            };
            if stop.swap(true, Ordering::SeqCst) {
                say!("marketpulse: {name} again, exiting without a manifest");
                std::process::exit(code);
            }
            *seen.lock().expect("signal lock") = Some(name);
            say!("marketpulse: {name}: finishing deliveries in flight, then writing the manifest");
        }
    });
    Received(which)
}
