//! Criterion benchmarks of the token cache: lookup hits with 1 and 10,000 entries, load and
//! save of a 1,000-entry cache (in memory and through the encrypted file backend), and
//! concurrent lookups on every core.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use entra_cache::{
    AccessTokenQuery, Cache, CacheDocument, FileBackend, MemorySecretStore, SecretStore, TokenCache,
};
use time::OffsetDateTime;

const CLIENT: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const ENV: &str = "login.microsoftonline.com";
const ALIASES: [&str; 3] = [
    "login.microsoftonline.com",
    "login.windows.net",
    "sts.windows.net",
];

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A cache of `n` access tokens (100 accounts × n/100 resources, each token 1,500 bytes), plus
/// a refresh token, ID token and account per account, built as MSAL's JSON.
fn cache_of(n: usize) -> TokenCache {
    let secret = "e".repeat(1_500);
    let mut at = serde_json::Map::new();
    let mut other = serde_json::Map::new();
    for i in 0..n {
        let home = format!("{:08}-0000-0000-0000-000000000000.tenant", i % 100);
        let scope = format!("api://resource-{}/.default", i / 100);
        at.insert(
            entra_cache::keys::access_token(&home, ENV, CLIENT, "organizations", &scope),
            serde_json::json!({"credential_type": "AccessToken", "secret": format!("{secret}{i}"),
                "home_account_id": home, "environment": ENV, "client_id": CLIENT,
                "target": scope, "realm": "organizations", "token_type": "Bearer",
                "cached_at": "1800000000", "expires_on": "1800003600",
                "extended_expires_on": "1800003600"}),
        );
        if i < 100 {
            other.insert(
                entra_cache::keys::refresh_token(&home, ENV, CLIENT),
                serde_json::json!({"credential_type": "RefreshToken", "secret": secret,
                    "home_account_id": home, "environment": ENV, "client_id": CLIENT,
                    "family_id": "1"}),
            );
        }
    }
    let doc = serde_json::json!({"AccessToken": at, "RefreshToken": other});
    let bytes = serde_json::to_vec(&doc).unwrap_or_default();
    TokenCache::from_document(CacheDocument::from_json(&bytes).unwrap_or_default())
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup_hit");
    for n in [1, 10_000] {
        let cache = cache_of(n);
        let i = n - 1;
        let home = format!("{:08}-0000-0000-0000-000000000000.tenant", i % 100);
        let scope = format!("API://resource-{}/.default", i / 100);
        let scopes = [scope.as_str()];
        let query = AccessTokenQuery::new(CLIENT, &home, "organizations", &ALIASES, &scopes);
        assert!(cache.find_access_token(&query, now()).is_some());
        group.bench_function(format!("{n}_entries"), |b| {
            b.iter(|| black_box(cache.find_access_token(black_box(&query), now())));
        });
    }
    group.finish();
}

fn load_and_save(c: &mut Criterion) {
    let cache = cache_of(1_000);
    let json = cache.to_json();
    let mut group = c.benchmark_group("1000_entries");
    group.throughput(criterion::Throughput::Bytes(json.len() as u64));
    group.bench_function("parse_and_index", |b| {
        b.iter(|| {
            let doc = CacheDocument::from_json(black_box(&json)).unwrap_or_default();
            black_box(TokenCache::from_document(doc))
        });
    });
    group.bench_function("serialize", |b| b.iter(|| black_box(cache.to_json())));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let doc = cache.document();
    #[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(unused_mut))]
    let mut stores: Vec<(&str, Arc<dyn SecretStore>)> =
        vec![("memory_store", Arc::new(MemorySecretStore::new()))];
    // The real Secret Service (run inside a D-Bus session with a keyring, as `cargo xtask
    // bench` does when it can), under a name of its own.
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let item = entra_cache::SecretServiceItem::for_file_name("entra-bench.nocae");
        let store = entra_cache::SecretServiceStore::new(item);
        match store.check() {
            Ok(()) => stores.push(("secret_service", Arc::new(store))),
            Err(e) => println!("secret_service: skipped, no usable Secret Service ({e})"),
        }
    }
    for (kind, store) in stores {
        let path = dir.path().join(format!("{kind}.nocae"));
        let backend = || Arc::new(FileBackend::new(&path).with_secret_store(Arc::clone(&store)));
        let writer = Cache::with_backend(backend());
        group.bench_function(format!("{kind}_save"), |b| {
            b.iter(|| {
                runtime
                    .block_on(writer.import(doc.clone()))
                    .unwrap_or_else(|e| panic!("{e}"));
            });
        });
        group.bench_function(format!("{kind}_load"), |b| {
            b.iter_batched(
                || Cache::with_backend(backend()),
                |fresh| {
                    runtime
                        .block_on(fresh.reload())
                        .unwrap_or_else(|e| panic!("{e}"));
                    black_box(fresh)
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn concurrent(c: &mut Criterion) {
    let cache = Arc::new(cache_of(10_000));
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let mut group = c.benchmark_group("concurrent_lookups");
    group.throughput(criterion::Throughput::Elements(threads as u64));
    group.bench_function(format!("{threads}_threads_10000_entries"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for t in 0..threads {
                    let cache = Arc::clone(&cache);
                    s.spawn(move || {
                        let i = (t * 997) % 10_000;
                        let home = format!("{:08}-0000-0000-0000-000000000000.tenant", i % 100);
                        let scope = format!("api://resource-{}/.default", i / 100);
                        let scopes = [scope.as_str()];
                        let q = AccessTokenQuery::new(
                            CLIENT,
                            &home,
                            "organizations",
                            &ALIASES,
                            &scopes,
                        );
                        for _ in 0..iters {
                            black_box(cache.find_access_token(&q, now()));
                        }
                    });
                }
            });
            start.elapsed()
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = lookup, load_and_save, concurrent
}
criterion_main!(benches);
