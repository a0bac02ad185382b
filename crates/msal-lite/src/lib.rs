//! Placeholder module doc; filled by its issue.
