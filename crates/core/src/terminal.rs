//! Text from outside (a server's `error_description` or device-code `message`, an issuer in a
//! metadata document, a username from an ID token, a cache or a record file) made safe to show
//! on a terminal.
//!
//! A terminal acts on control characters: ESC starts CSI and OSC sequences (set the window
//! title, draw a fake prompt, plant an OSC 8 link, write the clipboard with OSC 52), BEL ends
//! an OSC, `\r` overwrites the line, and C1 characters (U+0080-U+009F) are CSI/OSC on their
//! own in some terminals. Bidirectional overrides reorder what the reader sees. Every one of
//! them is shown escaped instead (`\u{1b}`), so the reader sees that something was there and
//! nothing is acted on; newline and tab are kept.

use std::borrow::Cow;
use std::fmt;

/// Whether `c` is shown escaped: C0 controls other than newline and tab, DEL, C1 controls,
/// and the bidirectional formatting characters (embeddings, overrides, isolates, marks). (A
/// carriage return directly before a newline is kept by [`terminal_safe`] and [`Untrusted`].)
#[must_use]
pub fn is_unsafe_for_terminal(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// `text` with every character a terminal would act on shown escaped (`\u{1b}`); borrowed
/// when there is none.
///
/// ```
/// use entra_core::terminal_safe;
///
/// // An OSC 0 sequence that would set the window title, and a right-to-left override.
/// let hostile = "AADSTS50076: \u{1b}]0;pwned\u{7}done \u{202e}txt.exe";
/// assert_eq!(
///     terminal_safe(hostile),
///     "AADSTS50076: \\u{1b}]0;pwned\\u{7}done \\u{202e}txt.exe"
/// );
/// assert!(matches!(terminal_safe("plain text\n"), std::borrow::Cow::Borrowed(_)));
/// ```
#[must_use]
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    let mut chars = text.chars().peekable();
    let mut clean = true;
    while let Some(c) = chars.next() {
        if is_unsafe_for_terminal(c) && !(c == '\r' && chars.peek() == Some(&'\n')) {
            clean = false;
            break;
        }
    }
    if clean {
        return Cow::Borrowed(text);
    }
    Cow::Owned(Untrusted(text).to_string())
}

/// Displays untrusted text the way [`terminal_safe`] returns it, without allocating: for
/// `format!`/`write!` of a message that quotes outside text.
///
/// ```
/// use entra_core::Untrusted;
///
/// let issuer = "https://evil.example/\u{9b}2J";
/// assert_eq!(
///     format!("the issuer '{}' does not match", Untrusted(issuer)),
///     "the issuer 'https://evil.example/\\u{9b}2J' does not match"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Untrusted<'a>(pub &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(is_unsafe_for_terminal) {
            let c = rest[at..].chars().next().unwrap_or_default();
            if c == '\r' && rest[at + 1..].starts_with('\n') {
                // A line break written CRLF (Entra's error descriptions): harmless.
                f.write_str(&rest[..at + 1])?;
            } else {
                f.write_str(&rest[..at])?;
                write!(f, "\\u{{{:x}}}", u32::from(c))?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_terminal_attack_is_shown_escaped_and_nothing_else_changes() {
        let payloads = [
            ("\u{1b}]0;title\u{7}", "\\u{1b}]0;title\\u{7}"),
            (
                "\u{1b}]8;;https://evil.example\u{1b}\\devicelogin\u{1b}]8;;\u{1b}\\",
                "\\u{1b}]8;;https://evil.example\\u{1b}\\devicelogin\\u{1b}]8;;\\u{1b}\\",
            ),
            (
                "\u{1b}]52;c;cm0gLXJmIH4=\u{7}",
                "\\u{1b}]52;c;cm0gLXJmIH4=\\u{7}",
            ),
            ("\u{1b}[2J\u{1b}[1A", "\\u{1b}[2J\\u{1b}[1A"),
            ("\u{9b}31m\u{9d}0;t\u{9c}", "\\u{9b}31m\\u{9d}0;t\\u{9c}"),
            ("a\rb\u{8}c\u{7f}", "a\\u{d}b\\u{8}c\\u{7f}"),
            ("\u{202e}exe.txt\u{2066}", "\\u{202e}exe.txt\\u{2066}"),
            (
                "line\n\tindented, café, 日本",
                "line\n\tindented, café, 日本",
            ),
            ("Entra's\r\n Trace ID\r", "Entra's\r\n Trace ID\\u{d}"),
        ];
        for (input, shown) in payloads {
            assert_eq!(terminal_safe(input), shown, "{input:?}");
            let shown = terminal_safe(input).replace("\r\n", "\n");
            assert!(!shown.chars().any(is_unsafe_for_terminal));
        }
    }
}
