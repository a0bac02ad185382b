//! Single flight: many concurrent callers, one request and one prompt.

use std::sync::Arc;
use std::time::Duration;

use entra_testing::Endpoint;

use crate::common::{Client, Env, SCOPE};

async fn hundred_calls(credential: &Arc<Client>) -> Vec<String> {
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
    let credential = env.client();
    let tokens = hundred_calls(&credential).await;
    assert_eq!(tokens.len(), 100);
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(env.prompts(), 1);
    assert_eq!(env.mock.count(Endpoint::Token), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_refreshes_make_one_request() {
    let env = Env::start().await;
    env.mock.set_token_lifetime(Duration::from_secs(200));
    let credential = env.client();
    credential.get_token(&[SCOPE], None).await.unwrap();
    // The refreshed token is long-lived, so a caller that a busy machine starts only after
    // the refresh finished is served it from memory rather than refreshing once more.
    env.mock.set_token_lifetime(Duration::from_secs(3600));
    env.mock.clear_log();
    let tokens = hundred_calls(&credential).await;
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(env.mock.count(Endpoint::Token), 1);
    assert_eq!(env.prompts(), 1);
}
