//! Peak heap of a credential holding 1,000 tokens, measured with dhat's heap statistics (a
//! `harness = false` bench: `cargo bench --bench memory`). One interactive sign-in against
//! the mock, then 999 more scopes through the refresh token; the heap the credential holds is
//! what dropping it gives back. Under `cargo test --benches` it runs a 20-token version and
//! writes nothing.

// A bench program, like a test, stops loudly on a broken set-up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Instant;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn scope(i: usize) -> String {
    format!("https://app{i}.contoso.com/.default")
}

fn main() {
    let tokens = if support::bench_mode() { 1_000 } else { 20 };
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The mock keeps one refresh token (no rotation) and its log is emptied as we go,
        // so what grows is the credential.
        let mock = entra_testing::MockEntra::builder()
            .rotate_refresh_tokens(false)
            .start()
            .await
            .unwrap();
        let start = Instant::now();
        let before = dhat::HeapStats::get();
        let credential = support::credential(&mock);
        for i in 0..tokens {
            let s = scope(i);
            entra_core::TokenCredential::get_token(&*credential, &[s.as_str()], None)
                .await
                .unwrap();
            if i % 100 == 99 {
                mock.clear_log();
            }
        }
        mock.clear_log();
        // Every token is now served from the credential without a request.
        for i in 0..tokens {
            let s = scope(i);
            entra_core::TokenCredential::get_token(&*credential, &[s.as_str()], None)
                .await
                .unwrap();
        }
        assert_eq!(mock.total_requests(), 0, "all {tokens} tokens are held");
        let held = dhat::HeapStats::get();
        drop(credential);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let after = dhat::HeapStats::get();
        let credential_bytes = held.curr_bytes.saturating_sub(after.curr_bytes);
        println!(
            "{tokens} tokens in {:.1?}: heap held by the credential {credential_bytes} bytes, \
             process heap {} bytes (peak {} bytes), before the credential {} bytes",
            start.elapsed(),
            held.curr_bytes,
            held.max_bytes,
            before.curr_bytes
        );
        if support::bench_mode() {
            support::record(
                "credential holding 1,000 tokens: heap it holds",
                credential_bytes as f64,
                "bytes",
                &format!(
                    "freed when the credential is dropped (dhat); {:.0} bytes per token",
                    credential_bytes as f64 / tokens as f64
                ),
            );
            support::record(
                "credential holding 1,000 tokens: peak heap of the whole process",
                held.max_bytes as f64,
                "bytes",
                &format!(
                    "dhat max_bytes, embedded mock and TLS included; {} bytes before the credential existed",
                    before.curr_bytes
                ),
            );
            support::write("memory");
        }
    });
}
