//! Paste-back mode: the user signs in with a browser elsewhere and pastes back the address it
//! ended on. The right address signs in; a wrong state, a foreign address or an error address
//! is a clear, typed error, and no code is redeemed for them.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use entra_browser_flow::{
    BrowserFlowError, InteractiveBrowserCredential, PasteError, PasteRedirect, ResponseMode,
};
use entra_core::{BrowserOpenError, Secret};
use entra_testing::{AuthorizeRefusal, DEFAULT_USERNAME, Endpoint, MockEntra};

use crate::common::{Env, SCOPE};

/// The user's browser on another machine: follows the sign-in URL at the mock, then `edit`s
/// the address it ends on before "pasting" it.
struct ElsewhereBrowser {
    client: reqwest::Client,
    edit: fn(String) -> String,
    shown: Mutex<Vec<String>>,
}

impl std::fmt::Debug for ElsewhereBrowser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ElsewhereBrowser")
    }
}

#[async_trait]
impl PasteRedirect for ElsewhereBrowser {
    async fn paste(&self, sign_in_url: &str) -> Result<Secret, BrowserOpenError> {
        self.shown.lock().unwrap().push(sign_in_url.to_owned());
        let response = self.client.get(sign_in_url).send().await.unwrap();
        assert_eq!(response.status(), 302);
        let ended_on = response.headers()["location"].to_str().unwrap().to_owned();
        Ok(Secret::new((self.edit)(ended_on)))
    }
}

fn credential(
    env: &Env,
    edit: fn(String) -> String,
) -> (Arc<InteractiveBrowserCredential>, Arc<ElsewhereBrowser>) {
    let paste = Arc::new(ElsewhereBrowser {
        client: env.mock.resolving_http_client(),
        edit,
        shown: Mutex::new(Vec::new()),
    });
    let credential =
        InteractiveBrowserCredential::new(env.options().with_paste_redirect(paste.clone()))
            .unwrap();
    (credential, paste)
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn the_pasted_address_signs_in_with_query_mode_and_no_loopback_server() {
    let env = Env::start().await;
    let (credential, paste) = credential(&env, |url| format!("  {url}\n"));
    let token = credential.get_token(&[SCOPE], None).await.unwrap();
    assert!(!token.token.secret().is_empty());
    assert_eq!(
        credential.authentication_record().unwrap().username(),
        DEFAULT_USERNAME
    );
    let shown = paste.shown.lock().unwrap().clone();
    assert_eq!(shown.len(), 1);
    assert_eq!(
        query_param(&shown[0], "response_mode").as_deref(),
        Some(ResponseMode::Query.as_str())
    );
    assert_eq!(
        query_param(&shown[0], "redirect_uri").as_deref(),
        Some("http://localhost:8400")
    );
    assert_eq!(env.mock.count(Endpoint::Token), 1);
    // The browser stand-in of the environment was never asked to open anything.
    assert_eq!(env.browser.open_count(), 0);
}

#[tokio::test]
async fn a_stale_or_foreign_address_is_refused_and_no_code_is_redeemed() {
    let env = Env::start().await;
    for (edit, why) in [
        (
            (|url: String| url.replace("state=", "state=stale")) as fn(String) -> String,
            PasteError::StateMismatch,
        ),
        (
            |url: String| url.replace("http://localhost:8400", "http://localhost:9999"),
            PasteError::NotTheRedirect,
        ),
        (
            |_url: String| "I could not find it".to_owned(),
            PasteError::NotTheRedirect,
        ),
    ] {
        let (credential, _) = credential(&env, edit);
        let err = credential.get_token(&[SCOPE], None).await.unwrap_err();
        assert!(err.is_client_authentication(), "{err}");
        let Some(BrowserFlowError::PastedAddressRefused(refused)) = err.find_cause() else {
            panic!("{err:?}");
        };
        assert_eq!(refused, &why);
        assert!(
            err.message().starts_with("The pasted address was refused"),
            "{err}"
        );
    }
    assert_eq!(env.mock.count(Endpoint::Token), 0);
}

#[tokio::test]
async fn an_error_address_is_entras_answer() {
    let env =
        Env::with(MockEntra::builder().authorize_refusal(AuthorizeRefusal::AccessDenied)).await;
    let (credential, _) = credential(&env, |url| url);
    let err = credential.get_token(&[SCOPE], None).await.unwrap_err();
    assert_eq!(err.error_response().unwrap().error, "access_denied");
    assert_eq!(env.mock.count(Endpoint::Token), 0);
}
