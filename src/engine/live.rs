//! The engine a daemon runs now. A config reload swaps it whole; each pass
//! takes one snapshot, so a pass never mixes two configurations.

use super::Engine;
use crate::config::Settings;
use crate::executor::Executor;
use std::sync::{Arc, RwLock};

/// A swappable [`Engine`]. Cheap to clone; clones share the slot.
#[derive(Clone, Debug)]
pub struct LiveEngine(Arc<RwLock<Engine>>);

impl LiveEngine {
    /// Start with `engine`.
    pub fn new(engine: Engine) -> LiveEngine {
        LiveEngine(Arc::new(RwLock::new(engine)))
    }

    /// The engine now (a cheap clone of its handles).
    pub fn current(&self) -> Engine {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The settings now.
    pub fn settings(&self) -> Arc<Settings> {
        self.current().shared_settings()
    }

    /// The executor now.
    pub fn executor(&self) -> Executor {
        self.current().executor().clone()
    }

    /// Passes that start from now on use `engine`.
    pub fn replace(&self, engine: Engine) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = engine;
    }
}
