//! What the stand-in browser does with a URL: follow the start address and the authorize
//! URL, sign in (submitting the mock's HTML page when shown), and deliver the redirect to the
//! loopback address as a `GET` or a form `POST`.

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, ORIGIN, USER_AGENT};

use super::outcome::{BrowserBehavior, BrowserOutcome, LoopbackResponse};
use super::state::{BrowserConfig, Inner};
use crate::endpoints::{REFUSE_HEADER, USER_HEADER, is_loopback_redirect};
use crate::util::{encode_form, parse_forms, random_token};

const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) entra-testing-HeadlessBrowser/0.1";
const HTML_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// A credential may hand the browser a loopback start address (on a loopback host, not the
/// mock's port) that redirects to the sign-in page, as a real browser would follow it. Returns
/// the sign-in URL it redirects to, or `None` when `url` is not such an address.
pub(super) async fn follow_start_address(
    inner: &Inner,
    url: &str,
) -> Result<Option<String>, String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(None);
    };
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !loopback || parsed.port_or_known_default() == Some(inner.mock_port) {
        return Ok(None);
    }
    let response = inner
        .client
        .get(parsed)
        .header(USER_AGENT, BROWSER_UA)
        .header(ACCEPT, HTML_ACCEPT)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the start address could not be loaded: {}",
                error_chain(&e.without_url())
            )
        })?;
    if !response.status().is_redirection() {
        return Err(format!(
            "the start address answered {} instead of redirecting to the sign-in page",
            response.status().as_u16()
        ));
    }
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|location| Some(location.to_owned()))
        .ok_or_else(|| "the start address redirected without a Location".to_owned())
}

/// How the redirect reaches the loopback server.
pub(super) enum Delivery {
    Get(url::Url),
    Post(url::Url, Vec<(String, String)>),
}

impl Delivery {
    fn target(&self) -> &url::Url {
        match self {
            Self::Get(u) | Self::Post(u, _) => u,
        }
    }

    fn forge_state(&mut self) {
        let forged = format!("forged-{}", random_token(1));
        match self {
            Self::Get(u) => {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .into_owned()
                    .map(|(k, v)| {
                        if k == "state" {
                            (k, forged.clone())
                        } else {
                            (k, v)
                        }
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            Self::Post(_, inputs) => {
                for (k, v) in inputs.iter_mut() {
                    if k == "state" {
                        v.clone_from(&forged);
                    }
                }
            }
        }
    }
}

pub(super) async fn fetch(
    client: &reqwest::Client,
    method: &str,
    url: &url::Url,
    origin: &str,
    form: Option<&[(String, String)]>,
) -> LoopbackResponse {
    let mut req = match form {
        Some(inputs) => client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ORIGIN, origin)
            .body(encode_form(
                inputs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )),
        None => client.get(url.clone()),
    };
    req = req
        .header(USER_AGENT, BROWSER_UA)
        .header(ACCEPT, HTML_ACCEPT);
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            LoopbackResponse {
                method: method.to_owned(),
                url: url.to_string(),
                status: Some(status),
                body,
                error: None,
            }
        }
        Err(e) => LoopbackResponse {
            method: method.to_owned(),
            url: url.to_string(),
            status: None,
            body: String::new(),
            // Without the URL: a query redirect's URL carries the code.
            error: Some(error_chain(&e.without_url())),
        },
    }
}

pub(super) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

pub(super) async fn deliver(
    client: &reqwest::Client,
    d: &Delivery,
    origin: &str,
) -> LoopbackResponse {
    match d {
        Delivery::Get(u) => fetch(client, "GET", u, origin, None).await,
        Delivery::Post(u, inputs) => fetch(client, "POST", u, origin, Some(inputs)).await,
    }
}

/// Follows the authorize URL and delivers the redirect.
pub(super) async fn run(
    client: &reqwest::Client,
    url: &str,
    cfg: &BrowserConfig,
) -> BrowserOutcome {
    let mut out = BrowserOutcome::new(cfg.behavior);
    let Ok(mut current) = url::Url::parse(url) else {
        out.error = Some("the URL does not parse".to_owned());
        return out;
    };
    let origin = current.origin().ascii_serialization();
    let mut req = client
        .get(current.clone())
        .header(USER_AGENT, BROWSER_UA)
        .header(ACCEPT, HTML_ACCEPT);
    if let Some(user) = &cfg.user {
        req = req.header(USER_HEADER, user);
    }
    if cfg.behavior == BrowserBehavior::Cancel {
        req = req.header(REFUSE_HEADER, "access_denied");
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(format!(
                "the sign-in page could not be loaded: {}",
                error_chain(&e.without_url())
            ));
            return out;
        }
    };
    out.authorize_status = Some(resp.status().as_u16());
    if cfg.behavior == BrowserBehavior::NeverFinish {
        let _ = resp.text().await;
        out.error =
            Some("the user never finished signing in (BrowserBehavior::NeverFinish)".into());
        return out;
    }

    let mut delivery = None;
    for _ in 0..6 {
        let status = resp.status().as_u16();
        if (300..400).contains(&status) {
            let Some(location) = resp
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| current.join(l).ok())
            else {
                out.error = Some(format!("a {status} answer had no usable Location"));
                return out;
            };
            if is_loopback_redirect(location.as_str()) {
                delivery = Some(Delivery::Get(location));
                break;
            }
            current = location;
            resp = match client
                .get(current.clone())
                .header(USER_AGENT, BROWSER_UA)
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    out.error = Some(format!(
                        "following a redirect failed: {}",
                        error_chain(&e.without_url())
                    ));
                    return out;
                }
            };
            continue;
        }
        let body = resp.text().await.unwrap_or_default();
        if status != 200 {
            out.error = Some(format!(
                "the sign-in page answered {status}: {}",
                page_text(&body)
            ));
            return out;
        }
        let forms = parse_forms(&body);
        if let Some(form) = forms
            .iter()
            .find(|f| f.id.as_deref() == Some("mock-entra-sign-in"))
        {
            let Ok(action) = current.join(&form.action) else {
                out.error = Some("the sign-in form has an unusable action".into());
                return out;
            };
            let username = cfg
                .user
                .clone()
                .unwrap_or_else(|| cfg.default_username.clone());
            let mut inputs: Vec<(String, String)> = form
                .inputs
                .iter()
                .filter(|(k, _)| k != "login")
                .cloned()
                .collect();
            inputs.push(("login".to_owned(), username));
            current = action;
            resp = match client
                .post(current.clone())
                .header(USER_AGENT, BROWSER_UA)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ORIGIN, &origin)
                .body(encode_form(
                    inputs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ))
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    out.error = Some(format!(
                        "submitting the sign-in page failed: {}",
                        error_chain(&e.without_url())
                    ));
                    return out;
                }
            };
            continue;
        }
        if let Some(form) = forms.iter().find(|f| f.method == "post") {
            match current.join(&form.action) {
                Ok(action) if is_loopback_redirect(action.as_str()) => {
                    delivery = Some(Delivery::Post(action, form.inputs.clone()));
                    break;
                }
                _ => {
                    out.error =
                        Some("the form_post page does not post to a loopback address".into());
                    return out;
                }
            }
        }
        out.error = Some(format!(
            "the sign-in page neither redirected nor posted: {}",
            page_text(&body)
        ));
        return out;
    }
    let Some(mut delivery) = delivery else {
        out.error = Some("too many pages before the redirect".into());
        return out;
    };

    let target = delivery.target().clone();
    let loopback_origin = target.origin().ascii_serialization();
    if cfg.stray {
        for path in ["/".to_owned(), format!("/{}", random_token(1))] {
            if let Ok(u) = url::Url::parse(&format!("{loopback_origin}{path}")) {
                out.stray
                    .push(fetch(client, "GET", &u, &origin, None).await);
            }
        }
    }
    if cfg.behavior == BrowserBehavior::ForgedState {
        delivery.forge_state();
    }
    let redirect = deliver(client, &delivery, &origin).await;
    if let Some(e) = &redirect.error {
        out.error = Some(format!(
            "the loopback server did not answer the redirect: {e}"
        ));
    }
    out.redirect = Some(redirect);
    if cfg.favicon
        && let Ok(u) = url::Url::parse(&format!("{loopback_origin}/favicon.ico"))
    {
        out.favicon = Some(fetch(client, "GET", &u, &origin, None).await);
    }
    if cfg.duplicate {
        out.duplicate = Some(deliver(client, &delivery, &origin).await);
    }
    out
}

/// A short text rendering of an error page (its `error-message` paragraph, or the start).
pub(super) fn page_text(body: &str) -> String {
    let marker = "id=\"error-message\">";
    if let Some(start) = body.find(marker).map(|p| p + marker.len())
        && let Some(end) = body[start..].find('<')
    {
        return crate::util::html_unescape(&body[start..start + end]);
    }
    body.chars().take(200).collect()
}
