//! The stand-in browser's shared state: its configuration and its record of what it did.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::outcome::{BrowserBehavior, BrowserOutcome};

#[derive(Clone, Debug)]
pub(super) struct BrowserConfig {
    pub(super) behavior: BrowserBehavior,
    pub(super) user: Option<String>,
    pub(super) default_username: String,
    pub(super) favicon: bool,
    pub(super) duplicate: bool,
    pub(super) stray: bool,
}

#[derive(Default)]
pub(super) struct Record {
    pub(super) opened: Vec<String>,
    pub(super) start_urls: Vec<String>,
    pub(super) started: u64,
    pub(super) outcomes: Vec<BrowserOutcome>,
}

pub(super) struct Inner {
    pub(super) client: reqwest::Client,
    pub(super) mock_port: u16,
    pub(super) config: Mutex<BrowserConfig>,
    pub(super) record: Mutex<Record>,
    pub(super) done: watch::Sender<u64>,
}

impl Inner {
    pub(super) fn config(&self) -> MutexGuard<'_, BrowserConfig> {
        self.config.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn record(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
