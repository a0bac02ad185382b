//! Small helpers: randomness, base64url, GUID checks, HTML escaping and form parsing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `n` chunks of 16 random bytes (UUID v4 randomness, so no fallible RNG call here).
pub(crate) fn random_bytes(chunks: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunks * 16);
    for _ in 0..chunks {
        out.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    out
}

/// A random URL-safe opaque string of `chunks * 16` random bytes.
pub(crate) fn random_token(chunks: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(chunks))
}

/// A random GUID string (lower case, hyphenated).
pub(crate) fn random_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// base64url without padding.
pub(crate) fn b64url(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Whether `s` looks like a GUID (8-4-4-4-12 hex digits).
pub(crate) fn is_guid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

/// Escapes text for an HTML attribute value or element content.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Reverses [`html_escape`] (and the common numeric entities).
pub(crate) fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        let Some(end) = after.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &after[1..];
            continue;
        };
        let entity = &after[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses `application/x-www-form-urlencoded` text into ordered pairs.
pub(crate) fn parse_form(text: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text).into_owned().collect()
}

/// Encodes pairs as `application/x-www-form-urlencoded`.
pub(crate) fn encode_form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// First value of `name` in `pairs`.
pub(crate) fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// An HTML form found in a page: its action, method and inputs (name, value).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct HtmlForm {
    pub(crate) action: String,
    pub(crate) method: String,
    pub(crate) id: Option<String>,
    pub(crate) inputs: Vec<(String, String)>,
}

/// Extracts the attributes of one tag body (`<input a="b" c='d'>` without the brackets).
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    let bytes = tag.as_bytes();
    let mut i = 0;
    // Skip the tag name.
    while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len()
            && !bytes[i].is_ascii_whitespace()
            && bytes[i] != b'='
            && bytes[i] != b'/'
        {
            i += 1;
        }
        let name = tag[start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let value = if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                i += 1;
                let vstart = i;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                let v = &tag[vstart..i];
                i += 1;
                v
            } else {
                let vstart = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                &tag[vstart..i]
            };
            attrs.push((name, html_unescape(value)));
        } else if !name.is_empty() {
            attrs.push((name, String::new()));
        } else {
            i += 1;
        }
    }
    attrs
}

/// Finds every `<form>` in `html` with its `<input>` elements (a tolerant scanner, enough for
/// the pages this crate serves and the auto-submitting form Entra serves for `form_post`).
pub(crate) fn parse_forms(html: &str) -> Vec<HtmlForm> {
    let lower = html.to_ascii_lowercase();
    let mut forms = Vec::new();
    let mut pos = 0;
    while let Some(start) = lower[pos..].find("<form").map(|p| p + pos) {
        let Some(tag_end) = lower[start..].find('>').map(|p| p + start) else {
            break;
        };
        let form_end = lower[tag_end..]
            .find("</form")
            .map_or(lower.len(), |p| p + tag_end);
        let attrs = attributes(&html[start + 1..tag_end]);
        let get = |n: &str| pair(&attrs, n).map(str::to_owned);
        let mut form = HtmlForm {
            action: get("action").unwrap_or_default(),
            method: get("method")
                .unwrap_or_else(|| "get".to_owned())
                .to_ascii_lowercase(),
            id: get("id").or_else(|| get("name")),
            inputs: Vec::new(),
        };
        let mut ipos = tag_end;
        while let Some(istart) = lower[ipos..form_end].find("<input").map(|p| p + ipos) {
            let Some(iend) = lower[istart..form_end].find('>').map(|p| p + istart) else {
                break;
            };
            let iattrs = attributes(&html[istart + 1..iend]);
            if let Some(name) = pair(&iattrs, "name") {
                let value = pair(&iattrs, "value").unwrap_or_default();
                form.inputs.push((name.to_owned(), value.to_owned()));
            }
            ipos = iend;
        }
        forms.push(form);
        pos = form_end.max(tag_end + 1);
        if pos >= lower.len() {
            break;
        }
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_round_trips() {
        let s = r#"a&b<c>"d"'e'"#;
        assert_eq!(html_unescape(&html_escape(s)), s);
        assert_eq!(html_unescape("&#x41;&#66;&bogus;&"), "AB&bogus;&");
    }

    #[test]
    fn parses_entra_form_post_page() {
        let page = r#"<html><body><form method="POST" name="hiddenform" action="http://localhost:8400/cb?x=1&amp;y=2">
            <input type="hidden" name="code" value="a&amp;b" /><input type="hidden" name='state' value='s"1'>
            <noscript><input type="submit" value="Submit" /></noscript></form></body></html>"#;
        let forms = parse_forms(page);
        assert_eq!(forms.len(), 1);
        let f = &forms[0];
        assert_eq!(f.action, "http://localhost:8400/cb?x=1&y=2");
        assert_eq!(f.method, "post");
        assert_eq!(f.id.as_deref(), Some("hiddenform"));
        assert_eq!(
            f.inputs,
            vec![
                ("code".to_owned(), "a&b".to_owned()),
                ("state".to_owned(), "s\"1".to_owned())
            ]
        );
    }

    #[test]
    fn guid_check() {
        assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(!is_guid("72f988bf86f141af91ab2d7cd011db47"));
        assert!(!is_guid("contoso.onmicrosoft.com"));
    }
}
