//! Errors of the RCU domain: only misuse that would otherwise deadlock.

use crate::Flavor;

/// What went wrong when asking a [`crate::Domain`] to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RcuError {
    /// The calling thread holds a read section that the requested wait would have to outlive.
    #[error(
        "waiting for a {flavor} grace period from inside a {held} read section of the same domain would deadlock"
    )]
    WouldDeadlock {
        /// The grace period that was asked for.
        flavor: Flavor,
        /// The flavour of the section the caller holds.
        held: Flavor,
    },
}
