//! The mock's authorize endpoint and HTML sign-in page: request validation, refusals, delivering the code to the redirect URI (query or form post).

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ResponseMode {
    Query,
    FormPost,
}

/// A validated authorize request.
pub(super) struct AuthorizeParams {
    client_id: String,
    redirect_uri: String,
    mode: ResponseMode,
    state: String,
    scopes: Scopes,
    code_challenge: String,
    nonce: Option<String>,
    client_info: bool,
    login_hint: Option<String>,
}

/// Why an authorize request fails: a page (no trusted redirect yet) or an error redirect.
pub(super) enum AuthorizeFailure {
    Page(EntraError),
    Redirect {
        redirect_uri: String,
        mode: ResponseMode,
        state: Option<String>,
        error: EntraError,
    },
}

/// Whether `uri` is an RFC 8252 loopback redirect URI: `http://localhost|127.0.0.1|[::1]`,
/// any port, optional path, no fragment, no user info.
pub(crate) fn is_loopback_redirect(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    url.scheme() == "http"
        && matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

/// The request's `client_id` (lower-case), if it is given and known.
pub(crate) fn client_of(st: &State, ctx: &Ctx, segment: &str) -> Result<String, EntraError> {
    let client_id = ctx
        .f("client_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| EntraError::missing("client_id"))?
        .to_ascii_lowercase();
    if !client_allowed(st, &client_id) {
        return Err(unknown_client(&client_id, segment));
    }
    Ok(client_id)
}

pub(super) fn client_allowed(st: &State, client_id: &str) -> bool {
    match &st.settings.allowed_client_ids {
        Some(ids) => ids.iter().any(|i| i.eq_ignore_ascii_case(client_id)),
        None => is_guid(client_id),
    }
}

pub(super) fn unknown_client(client_id: &str, tenant: &str) -> EntraError {
    EntraError::new(
        400,
        "unauthorized_client",
        700_016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. \
             This can happen if the application has not been installed by the administrator of \
             the tenant or consented to by any user in the tenant."
        ),
    )
}

pub(super) fn validate_authorize(
    st: &State,
    query: &[(String, String)],
    tenant_segment: &str,
) -> Result<AuthorizeParams, AuthorizeFailure> {
    let q = |n: &str| pair(query, n);
    let client_id = q("client_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AuthorizeFailure::Page(EntraError::missing("client_id")))?;
    if !client_allowed(st, client_id) {
        return Err(AuthorizeFailure::Page(unknown_client(
            client_id,
            tenant_segment,
        )));
    }
    let redirect_uri = q("redirect_uri")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| AuthorizeFailure::Page(EntraError::missing("redirect_uri")))?;
    if !is_loopback_redirect(redirect_uri) {
        return Err(AuthorizeFailure::Page(EntraError::new(
            400,
            "invalid_request",
            50_011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the \
                 redirect URIs configured for the application '{client_id}'."
            ),
        )));
    }
    let state = q("state").map(str::to_owned);
    let mode = match q("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(other) => {
            return Err(AuthorizeFailure::Redirect {
                redirect_uri: redirect_uri.to_owned(),
                mode: ResponseMode::Query,
                state,
                error: EntraError::new(
                    400,
                    "invalid_request",
                    900_143,
                    format!(
                        "The response_mode '{other}' is not supported by this mock: use query \
                         or form_post."
                    ),
                ),
            });
        }
    };
    let fail = |error: EntraError| AuthorizeFailure::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        mode,
        state: state.clone(),
        error,
    };
    match q("response_type") {
        Some("code") => {}
        None => return Err(fail(EntraError::missing("response_type"))),
        Some(other) => {
            return Err(fail(EntraError::new(
                400,
                "unsupported_response_type",
                700_054,
                format!("response_type '{other}' is not enabled for the application."),
            )));
        }
    }
    let Some(state_value) = state.clone().filter(|s| !s.is_empty()) else {
        return Err(fail(EntraError::missing("state")));
    };
    let scopes = Scopes::parse(q("scope").unwrap_or_default()).map_err(fail)?;
    let Some(code_challenge) = q("code_challenge").filter(|c| !c.is_empty()) else {
        return Err(fail(EntraError::new(
            400,
            "invalid_request",
            9_002_325,
            "Proof Key for Code Exchange is required for cross-origin authorization code \
             redemption.",
        )));
    };
    if q("code_challenge_method") != Some("S256") {
        return Err(fail(EntraError::new(
            400,
            "invalid_request",
            501_491,
            "Invalid code_challenge_method: only 'S256' is accepted.",
        )));
    }
    if code_challenge.len() != 43
        || !code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(fail(EntraError::new(
            400,
            "invalid_request",
            501_491,
            "Invalid size of Code_Challenge parameter.",
        )));
    }
    Ok(AuthorizeParams {
        client_id: client_id.to_ascii_lowercase(),
        redirect_uri: redirect_uri.to_owned(),
        mode,
        state: state_value,
        scopes,
        code_challenge: code_challenge.to_owned(),
        nonce: q("nonce").map(str::to_owned),
        client_info: q("client_info") == Some("1"),
        login_hint: q("login_hint").map(str::to_owned),
    })
}

/// Delivers a redirect to the client: 302 with a query, or Entra's auto-submitting form.
pub(super) fn deliver(
    redirect_uri: &str,
    mode: ResponseMode,
    params: &[(&str, &str)],
) -> Response<Body> {
    match mode {
        ResponseMode::Query => {
            let sep = if redirect_uri.contains('?') { '&' } else { '?' };
            let location = format!("{redirect_uri}{sep}{}", encode_form(params.iter().copied()));
            response(
                302,
                "text/html; charset=utf-8",
                "",
                &[(LOCATION.as_str(), location)],
            )
        }
        ResponseMode::FormPost => {
            let mut inputs = String::new();
            for (k, v) in params {
                inputs.push_str(&format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\" />",
                    html_escape(k),
                    html_escape(v)
                ));
            }
            let page = format!(
                "<html><head><title>Working...</title></head><body>\
                 <form method=\"POST\" name=\"hiddenform\" action=\"{action}\">{inputs}\
                 <noscript><p>Script is disabled. Click Submit to continue.</p>\
                 <input type=\"submit\" value=\"Submit\" /></noscript></form>\
                 <script language=\"javascript\">document.forms[0].submit();</script>\
                 </body></html>",
                action = html_escape(redirect_uri)
            );
            response(200, "text/html; charset=utf-8", page, &[])
        }
    }
}

pub(super) fn failure_response(failure: AuthorizeFailure) -> Response<Body> {
    match failure {
        AuthorizeFailure::Page(e) => e.to_html_page(),
        AuthorizeFailure::Redirect {
            redirect_uri,
            mode,
            state,
            error,
        } => {
            let description = error.description(
                &random_guid(),
                &random_guid(),
                &crate::entra_error::entra_timestamp(),
            );
            let mut params: Vec<(&str, &str)> =
                vec![("error", &error.error), ("error_description", &description)];
            if let Some(s) = state.as_deref() {
                params.push(("state", s));
            }
            deliver(&redirect_uri, mode, &params)
        }
    }
}

pub(super) fn authorize(shared: &Shared, ctx: &Ctx, segment: &str) -> Response<Body> {
    if ctx.method != "GET" {
        return method_not_allowed(ctx, "GET");
    }
    let mut st = shared.state();
    let tenant = match resolve_tenant(&st, segment) {
        Ok(t) => t,
        Err(e) => return e.to_html_page(),
    };
    let params = match validate_authorize(&st, &ctx.query, segment) {
        Ok(p) => p,
        Err(f) => return failure_response(f),
    };
    let refusal = ctx
        .header(REFUSE_HEADER)
        .map(AuthorizeRefusal::from_header)
        .or_else(|| st.settings.authorize_refusal.clone());
    if let Some(refusal) = refusal {
        let (error, description) = refusal.parts(&params.client_id);
        tracing::debug!(%error, "mock Entra ID authorize refused");
        return deliver(
            &params.redirect_uri,
            params.mode,
            &[
                ("error", &error),
                ("error_description", &description),
                ("state", &params.state),
            ],
        );
    }
    let chosen = ctx.header(USER_HEADER).map(str::to_owned);
    let wants_page = st.settings.sign_in_page || ctx.q(SIGN_IN_PAGE_PARAM) == Some("1");
    if chosen.is_none() && wants_page {
        let id = random_token(1);
        let now = Instant::now();
        st.pending_sign_ins
            .retain(|_, p| now.duration_since(p.created).as_secs() < 3600);
        st.pending_sign_ins.insert(
            id.clone(),
            PendingSignIn {
                query: ctx.query.clone(),
                tenant: segment.to_owned(),
                created: now,
            },
        );
        return sign_in_page(segment, &id, params.login_hint.as_deref(), None);
    }
    let user = match chosen {
        Some(name) => match st.user(&name) {
            Some(u) => u.clone(),
            None => return no_such_user(&name, segment),
        },
        None => {
            let hinted = params
                .login_hint
                .as_deref()
                .and_then(|h| st.user(h))
                .cloned();
            match hinted.or_else(|| st.default_user().cloned()) {
                Some(u) => u,
                None => return no_such_user("(default)", segment),
            }
        }
    };
    complete_sign_in(&mut st, &tenant, &params, user)
}

pub(super) fn no_such_user(name: &str, tenant: &str) -> Response<Body> {
    EntraError::new(
        400,
        "invalid_request",
        50_034,
        format!("The user account {name} does not exist in the {tenant} directory."),
    )
    .to_html_page()
}

/// Issues a code for `user` and delivers the success redirect.
pub(super) fn complete_sign_in(
    st: &mut State,
    tenant: &Tenant,
    params: &AuthorizeParams,
    user: TestUser,
) -> Response<Body> {
    let code = format!("1.A{}", random_token(3));
    let adfs = tenant.is_adfs();
    let info = tokens::client_info(&user);
    let tid = tenant.tid_for(&user);
    tracing::debug!(adfs, "mock Entra ID issued an authorization code");
    st.codes.insert(
        code.clone(),
        CodeGrant {
            client_id: params.client_id.clone(),
            redirect_uri: params.redirect_uri.clone(),
            code_challenge: params.code_challenge.clone(),
            scopes: params.scopes.all.clone(),
            nonce: params.nonce.clone(),
            user,
            tid,
            adfs,
            issued: Instant::now(),
        },
    );
    let session_state = random_guid();
    let mut out: Vec<(&str, &str)> = vec![("code", &code)];
    if params.client_info && !adfs {
        out.push(("client_info", &info));
    }
    out.push(("state", &params.state));
    out.push(("session_state", &session_state));
    deliver(&params.redirect_uri, params.mode, &out)
}

/// The HTML sign-in page: a username field and a submit button.
pub(super) fn sign_in_page(
    tenant: &str,
    ctx_id: &str,
    hint: Option<&str>,
    error: Option<&str>,
) -> Response<Body> {
    let error_html = error
        .map(|e| {
            format!(
                "<div id=\"usernameError\" role=\"alert\">{}</div>",
                html_escape(e)
            )
        })
        .unwrap_or_default();
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head>\
         <body><h1>Sign in</h1>{error_html}\
         <form id=\"mock-entra-sign-in\" method=\"post\" action=\"/{tenant}/login\">\
         <input type=\"hidden\" name=\"ctx\" value=\"{ctx}\" />\
         <label for=\"i0116\">Email, phone, or Skype</label>\
         <input type=\"email\" id=\"i0116\" name=\"login\" value=\"{hint}\" autocomplete=\"username\" />\
         <input type=\"submit\" id=\"idSIButton9\" value=\"Sign in\" />\
         </form></body></html>",
        tenant = html_escape(tenant),
        ctx = html_escape(ctx_id),
        hint = html_escape(hint.unwrap_or_default()),
    );
    response(200, "text/html; charset=utf-8", page, &[])
}

/// The submit of the sign-in page: `ctx` and `login` (the username).
pub(super) fn sign_in(shared: &Shared, ctx: &Ctx, segment: &str) -> Response<Body> {
    if ctx.method != "POST" {
        return method_not_allowed(ctx, "POST");
    }
    let mut st = shared.state();
    let Some(ctx_id) = ctx.f("ctx") else {
        return EntraError::missing("ctx").to_html_page();
    };
    let Some(pending) = st.pending_sign_ins.get(ctx_id).cloned() else {
        return EntraError::new(
            400,
            "invalid_request",
            90_014,
            "The sign-in session was not found or has expired. Start the sign-in again.",
        )
        .to_html_page();
    };
    let username = ctx.f("login").unwrap_or_default().trim().to_owned();
    let Some(user) = st.user(&username).cloned() else {
        return sign_in_page(
            segment,
            ctx_id,
            Some(&username),
            Some(
                "This username may be incorrect. Make sure you typed it correctly. Otherwise, \
                 contact your admin.",
            ),
        );
    };
    st.pending_sign_ins.remove(ctx_id);
    let tenant = match resolve_tenant(&st, &pending.tenant) {
        Ok(t) => t,
        Err(e) => return e.to_html_page(),
    };
    let params = match validate_authorize(&st, &pending.query, &pending.tenant) {
        Ok(p) => p,
        Err(f) => return failure_response(f),
    };
    complete_sign_in(&mut st, &tenant, &params, user)
}
