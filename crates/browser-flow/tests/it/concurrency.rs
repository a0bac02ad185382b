//! Single flight: many concurrent callers, one request and one prompt; other keys not blocked;
//! a cancelled sign-in releases its port.

use std::sync::Arc;
use std::time::Duration;

use entra_core::TokenRequestOptions;
use entra_testing::{BrowserBehavior, Endpoint};

use crate::common::{Env, OTHER_SCOPE, SCOPE, port_released, redirect_uri_of};

async fn hundred_calls(
    credential: &Arc<entra_browser_flow::InteractiveBrowserCredential>,
) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let credential = Arc::clone(credential);
        tasks.spawn(async move { credential.get_token(&[SCOPE], None).await });
    }
    let mut tokens = Vec::new();
    while let Some(result) = tasks.join_next().await {
        tokens.push(result.unwrap().unwrap().token.secret().to_owned());
    }
    tokens
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_first_calls_make_one_prompt_and_one_request() {
    let env = Env::start().await;
    let credential = env.credential();
    let tokens = hundred_calls(&credential).await;
    assert_eq!(tokens.len(), 100);
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(env.browser.open_count(), 1);
    assert_eq!(env.mock.count(Endpoint::Token), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_refreshes_make_one_request() {
    let env = Env::start().await;
    env.mock.set_token_lifetime(Duration::from_secs(200));
    let credential = env.credential();
    credential.get_token(&[SCOPE], None).await.unwrap();
    // The refreshed token is long-lived, so a caller that a busy machine starts only after
    // the refresh finished is served it from memory rather than refreshing once more.
    env.mock.set_token_lifetime(Duration::from_secs(3600));
    env.mock.clear_log();
    let tokens = hundred_calls(&credential).await;
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(env.mock.count(Endpoint::Token), 1);
    assert_eq!(env.browser.open_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_prompt_blocks_no_other_key_and_cancelling_it_releases_the_port() {
    let env = Env::start().await;
    let credential = env.credential();
    credential.get_token(&[SCOPE], None).await.unwrap();

    // A CAE request needs its own sign-in; the user never finishes it.
    env.browser.set_behavior(BrowserBehavior::NeverFinish);
    let pending = {
        let credential = Arc::clone(&credential);
        tokio::spawn(async move {
            let cae = TokenRequestOptions::default().with_enable_cae(true);
            credential.get_token(&[SCOPE], Some(cae)).await
        })
    };
    // Opened, and the start address followed (the opened URL then reads as the sign-in URL).
    for _ in 0..500 {
        if env.browser.start_urls().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(env.browser.open_count(), 2);
    assert_eq!(env.browser.start_urls().len(), 2);

    // Another key is served meanwhile (a silent refresh through the refresh token).
    let other = credential.get_token(&[OTHER_SCOPE], None).await.unwrap();
    assert!(!other.token.is_empty());
    assert!(!pending.is_finished());

    // Cancelling the pending sign-in releases its port.
    let port = redirect_uri_of(&env.browser, 1).port().unwrap();
    pending.abort();
    assert!(pending.await.unwrap_err().is_cancelled());
    assert!(port_released(port).await);
}
