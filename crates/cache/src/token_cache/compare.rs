//! Case-insensitive hashing and comparison without allocation, and the small matching rules (aliases, scope subsets) every lookup uses.

use super::*;

pub(super) fn feed_ci(h: &mut DefaultHasher, s: &str) {
    if s.is_ascii() {
        let mut buf = [0u8; 64];
        for chunk in s.as_bytes().chunks(buf.len()) {
            let b = &mut buf[..chunk.len()];
            b.copy_from_slice(chunk);
            b.make_ascii_lowercase();
            h.write(b);
        }
    } else {
        let mut utf8 = [0u8; 4];
        for c in s.chars().flat_map(char::to_lowercase) {
            h.write(c.encode_utf8(&mut utf8).as_bytes());
        }
    }
    // A separator that never occurs in UTF-8, so ("ab", "c") and ("a", "bc") differ.
    h.write_u8(0xff);
}

pub(super) fn hash_ci(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    for p in parts {
        feed_ci(&mut h, p);
    }
    h.finish()
}

/// Case-insensitive equality (Unicode lower-casing, no allocation).
pub(crate) fn eq_ci(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

pub(super) fn env_matches<E: AsRef<str>>(environment: &str, aliases: &[E]) -> bool {
    aliases.iter().any(|a| eq_ci(a.as_ref(), environment))
}

pub(super) fn target_contains_all<S: AsRef<str>>(target: &str, scopes: &[S]) -> bool {
    scopes
        .iter()
        .all(|s| target.split_whitespace().any(|t| eq_ci(t, s.as_ref())))
}

pub(super) fn to_time(seconds: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}
