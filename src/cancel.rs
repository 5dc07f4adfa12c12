//! One cancellation mechanism for Ctrl-C (SIGINT) and SIGTERM.
//!
//! `timeout`, systemd and container runtimes stop a program with SIGTERM;
//! people press Ctrl-C. Both mean the same to rooftune: mark the running
//! trial interrupted, stop the server's process group, say so, and exit with
//! 128 + the signal (130 or 143, see [`crate::exit`]). A [`Cancel`] token is
//! what every loop checks (the campaign loop, the evaluator, `bench`); the
//! signal handlers only store the signal number in an atomic (the one thing a
//! handler may safely do) and the token reads it. Tests make their own tokens
//! with [`Cancel::new`] and cancel them by hand.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The signal that arrived (0: none). Written only by [`on_signal`].
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
}

/// How often [`Cancel::cancelled`] looks at the flag.
const POLL: Duration = Duration::from_millis(20);

/// A cancellation token: cancelled by hand or, for the process's token, by
/// SIGINT or SIGTERM. Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    own: Arc<AtomicI32>,
    signals: bool,
}

impl Cancel {
    /// A token only [`Cancel::cancel`] cancels (tests, library callers).
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// The process's token: installs handlers for SIGINT and SIGTERM (so
    /// neither kills rooftune outright) and is cancelled when either arrives.
    pub fn from_signals() -> Cancel {
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: the handler only stores to an atomic (async-signal-safe).
            unsafe {
                libc::signal(sig, on_signal as *const () as libc::sighandler_t);
            }
        }
        Cancel {
            own: Arc::default(),
            signals: true,
        }
    }

    /// Cancel as if `signal` had arrived (SIGINT for "the user asked").
    pub fn cancel(&self, signal: i32) {
        let _ = self
            .own
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The signal that cancelled it, if any.
    pub fn signal(&self) -> Option<i32> {
        let own = self.own.load(Ordering::SeqCst);
        if own != 0 {
            return Some(own);
        }
        let sig = if self.signals {
            SIGNALLED.load(Ordering::SeqCst)
        } else {
            0
        };
        (sig != 0).then_some(sig)
    }

    /// Whether it is cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.signal().is_some()
    }

    /// Resolves once cancelled, with the signal (for `tokio::select!`).
    pub async fn cancelled(&self) -> i32 {
        loop {
            if let Some(s) = self.signal() {
                return s;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// How to say it: "Ctrl-C" or "SIGTERM".
    pub fn describe(signal: i32) -> &'static str {
        match signal {
            libc::SIGINT => "Ctrl-C",
            libc::SIGTERM => "SIGTERM",
            _ => "a signal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_signal_wins_and_clones_share() {
        let c = Cancel::new();
        let d = c.clone();
        assert_eq!(c.signal(), None);
        d.cancel(libc::SIGTERM);
        c.cancel(libc::SIGINT);
        assert_eq!(c.signal(), Some(libc::SIGTERM));
        assert!(d.is_cancelled());
    }

    #[tokio::test]
    async fn cancelled_resolves() {
        let c = Cancel::new();
        let d = c.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            d.cancel(libc::SIGINT);
        });
        assert_eq!(c.cancelled().await, libc::SIGINT);
    }
}
