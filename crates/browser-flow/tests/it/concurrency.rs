//! A pending browser sign-in blocks no other key, and cancelling it releases its port (single
//! flight itself is tested in entra-public-client).

use std::sync::Arc;
use std::time::Duration;

use entra_core::TokenRequestOptions;
use entra_testing::BrowserBehavior;

use crate::common::{Env, OTHER_SCOPE, SCOPE, port_released, redirect_uri_of};

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
