//! MSAL's write and lookup rules on the in-memory cache: aliases, realm, scope subset, token
//! type, the five-minute expiry window, `refresh_on`, FOCI, removals, many entries, many readers.

// Helpers of integration tests may unwrap: a failing test should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use entra_cache::{
    AccessTokenQuery, AccountWrite, Cache, CacheDocument, MemoryBackend, RefreshTokenQuery,
    TokenCache, TokenWrite, keys,
};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

const CLIENT: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const OTHER_CLIENT: &str = "1950a258-227b-4e31-a9cf-717495945fc2";
const HOME: &str = "uid.utid";
const ENV: &str = "login.microsoftonline.com";
const ALIASES: [&str; 3] = [
    "login.microsoftonline.com",
    "login.windows.net",
    "sts.windows.net",
];

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn write(scopes: &[&str]) -> TokenWrite {
    TokenWrite::new(CLIENT, ENV, "organizations", scopes).with_home_account_id(HOME)
}

fn query<'a>(realm: &'a str, scopes: &'a [&'a str]) -> AccessTokenQuery<'a> {
    AccessTokenQuery::new(CLIENT, HOME, realm, &ALIASES, scopes)
}

#[test]
fn access_tokens_match_aliases_realm_and_scope_subsets() {
    let cache = TokenCache::new();
    cache.write_token_response(
        &write(&["https://graph.microsoft.com/User.Read"])
            .with_granted_scope(Some("https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.Read openid"))
            .with_access_token("graph-at", 3600),
        t0(),
    );
    let now = t0() + Duration::minutes(1);
    // Any subset of the granted scopes, any case.
    for scopes in [
        &["https://graph.microsoft.com/user.read"][..],
        &[
            "HTTPS://GRAPH.MICROSOFT.COM/MAIL.READ",
            "https://graph.microsoft.com/User.Read",
        ],
        &["openid"],
    ] {
        let hit = cache.find_access_token(&query("organizations", scopes), now);
        assert_eq!(hit.unwrap().secret().secret(), "graph-at", "{scopes:?}");
    }
    // A scope that was not granted misses.
    assert!(
        cache
            .find_access_token(
                &query(
                    "organizations",
                    &["https://graph.microsoft.com/User.Read", "Files.Read"]
                ),
                now
            )
            .is_none()
    );
    // Realm must match (ignoring case).
    assert!(
        cache
            .find_access_token(&query("contoso.com", &["openid"]), now)
            .is_none()
    );
    assert!(
        cache
            .find_access_token(&query("ORGANIZATIONS", &["openid"]), now)
            .is_some()
    );
    // The environment must be one of the aliases.
    let other_cloud = ["login.microsoftonline.us"];
    let q = AccessTokenQuery::new(CLIENT, HOME, "organizations", &other_cloud, &["openid"]);
    assert!(cache.find_access_token(&q, now).is_none());
    // A token written under an alias is found through the preferred host.
    let cache2 = TokenCache::new();
    cache2.write_token_response(
        &TokenWrite::new(CLIENT, "login.windows.net", "organizations", &["s"])
            .with_home_account_id(HOME)
            .with_access_token("alias-at", 3600),
        t0(),
    );
    assert!(
        cache2
            .find_access_token(&query("organizations", &["s"]), now)
            .is_some()
    );
    // Client and account must match.
    let q = AccessTokenQuery::new(OTHER_CLIENT, HOME, "organizations", &ALIASES, &["openid"]);
    assert!(cache.find_access_token(&q, now).is_none());
    let q = AccessTokenQuery::new(CLIENT, "other.utid", "organizations", &ALIASES, &["openid"]);
    assert!(cache.find_access_token(&q, now).is_none());
}

#[test]
fn the_target_is_the_granted_scope_sorted_else_the_requested_one() {
    let cache = TokenCache::new();
    cache.write_token_response(
        &write(&["b", "a"])
            .with_granted_scope(Some("z y"))
            .with_access_token("at1", 3600),
        t0(),
    );
    cache.write_token_response(
        &write(&["d", "c", "d"]).with_access_token("at2", 3600),
        t0(),
    );
    let targets: Vec<String> = cache
        .document()
        .access_tokens()
        .map(|(_, t)| t.target.clone())
        .collect();
    assert!(targets.contains(&"y z".to_owned()), "{targets:?}");
    assert!(targets.contains(&"c d".to_owned()), "{targets:?}");
    // The requested-but-not-granted scope is not a hit.
    assert!(
        cache
            .find_access_token(&query("organizations", &["a"]), t0())
            .is_none()
    );
    assert!(
        cache
            .find_access_token(&query("organizations", &["y"]), t0())
            .is_some()
    );
}

#[test]
fn expiry_window_is_five_minutes_and_refresh_on_is_kept() {
    let cache = TokenCache::new();
    cache.write_token_response(
        &write(&["s"])
            .with_access_token("at", 3600)
            .with_refresh_in(Some(1800))
            .with_ext_expires_in(Some(7200)),
        t0(),
    );
    let q = query("organizations", &["s"]);
    let expires = t0() + Duration::seconds(3600);
    // Valid until five minutes before expiry, expired from then on.
    assert!(
        cache
            .find_access_token(&q, expires - Duration::seconds(301))
            .is_some()
    );
    assert!(
        cache
            .find_access_token(&q, expires - Duration::seconds(300))
            .is_none()
    );
    assert!(cache.find_access_token(&q, expires).is_none());

    let hit = cache.find_access_token(&q, t0()).unwrap();
    assert_eq!(hit.expires_on(), expires);
    assert_eq!(hit.refresh_on(), Some(t0() + Duration::seconds(1800)));
    assert!(!hit.should_refresh(t0() + Duration::seconds(1799)));
    assert!(hit.should_refresh(t0() + Duration::seconds(1800)));
    let info = hit.to_access_token_info();
    assert_eq!(info.refresh_on, hit.refresh_on());
    assert_eq!(info.token_type, "Bearer");
    assert_eq!(
        hit.entry().extended_expires_on,
        Some(t0().unix_timestamp() + 7200)
    );
    assert_eq!(hit.entry().cached_at, Some(t0().unix_timestamp()));

    // A token valid for five minutes or less is never cached.
    let cache = TokenCache::new();
    cache.write_token_response(&write(&["s"]).with_access_token("short", 300), t0());
    assert_eq!(cache.document().access_tokens().count(), 0);
    // ...but the rest of the response is.
    assert_eq!(cache.document().app_metadata().count(), 1);
}

#[test]
fn the_newest_of_several_matching_tokens_wins_and_token_types_do_not_mix() {
    let cache = TokenCache::new();
    cache.write_token_response(&write(&["a", "b"]).with_access_token("ab", 3600), t0());
    cache.write_token_response(&write(&["a"]).with_access_token("a", 7200), t0());
    cache.write_token_response(
        &write(&["a", "c"])
            .with_access_token("pop", 9000)
            .with_token_type(Some("pop")),
        t0(),
    );
    let hit = cache
        .find_access_token(&query("organizations", &["a"]), t0())
        .unwrap();
    assert_eq!(hit.secret().secret(), "a");
    let hit = cache
        .find_access_token(&query("organizations", &["b"]), t0())
        .unwrap();
    assert_eq!(hit.secret().secret(), "ab");
    assert!(
        cache
            .find_access_token(&query("organizations", &["c"]), t0())
            .is_none()
    );
    let q = query("organizations", &["c"]).with_token_type(Some("PoP"));
    assert_eq!(
        cache.find_access_token(&q, t0()).unwrap().secret().secret(),
        "pop"
    );
    // A second write for the same scopes replaces the first.
    cache.write_token_response(&write(&["a"]).with_access_token("a2", 7200), t0());
    let hit = cache
        .find_access_token(&query("organizations", &["a"]), t0())
        .unwrap();
    assert_eq!(hit.secret().secret(), "a2");
    assert_eq!(cache.document().access_tokens().count(), 3);
}

#[test]
fn writes_follow_msal_rules() {
    let cache = TokenCache::new();
    cache.write_token_response(
        &write(&["s"])
            .with_access_token("at", 3600)
            .with_refresh_token("rt", Some("1"))
            .with_id_token("idt")
            .with_account(
                AccountWrite::new("oid", "alice@contoso.com")
                    .with_account_source("authorization_code"),
            ),
        t0(),
    );
    let doc = cache.document();
    let json: Value = serde_json::from_slice(&doc.to_json()).unwrap();
    let rt = &json["RefreshToken"][keys::refresh_token(HOME, ENV, CLIENT)];
    assert_eq!(rt["family_id"], "1");
    assert_eq!(rt["credential_type"], "RefreshToken");
    assert_eq!(
        rt["last_modification_time"],
        t0().unix_timestamp().to_string()
    );
    let meta = &json["AppMetadata"][keys::app_metadata(ENV, CLIENT)];
    assert_eq!(meta["family_id"], "1");
    let account = &json["Account"][keys::account(HOME, ENV, "organizations")];
    assert_eq!(account["username"], "alice@contoso.com");
    assert_eq!(account["authority_type"], "MSSTS");
    assert_eq!(account["account_source"], "authorization_code");
    assert_eq!(
        json["IdToken"][keys::id_token(HOME, ENV, CLIENT, "organizations")]["secret"],
        "idt"
    );
    let at = &json["AccessToken"][keys::access_token(HOME, ENV, CLIENT, "organizations", "s")];
    assert_eq!(at["token_type"], "Bearer");
    assert_eq!(at["expires_on"], (t0().unix_timestamp() + 3600).to_string());

    // No account (app-only): only the access token and the metadata.
    let cache = TokenCache::new();
    cache.write_token_response(
        &TokenWrite::new(CLIENT, ENV, "tenant", &["s"])
            .with_access_token("at", 3600)
            .with_refresh_token("rt", None::<String>)
            .with_id_token("idt"),
        t0(),
    );
    let doc = cache.document();
    assert_eq!(
        (
            doc.access_tokens().count(),
            doc.refresh_tokens().count(),
            doc.id_tokens().count(),
            doc.app_metadata().count()
        ),
        (1, 0, 0, 1)
    );
    let q = AccessTokenQuery::new(CLIENT, "", "tenant", &ALIASES, &["s"]);
    assert!(cache.find_access_token(&q, t0()).is_some());
    // Secrets never show in Debug.
    let w = write(&["s"])
        .with_access_token("SECRET-AT", 3600)
        .with_refresh_token("SECRET-RT", None::<String>);
    assert!(!format!("{w:?} {cache:?}").contains("SECRET"));
}

#[test]
fn family_refresh_tokens_follow_msal_python_order() {
    let rtq = |client| RefreshTokenQuery::new(client, HOME, &ALIASES);
    let cache = TokenCache::new();
    // Another family app signed in: a family refresh token.
    cache.write_token_response(
        &TokenWrite::new(OTHER_CLIENT, ENV, "organizations", &["s"])
            .with_home_account_id(HOME)
            .with_refresh_token("frt", Some("1")),
        t0(),
    );
    // Unknown app (no metadata): the family token is tried.
    let found = cache.find_refresh_tokens(&rtq(CLIENT));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].secret().secret(), "frt");
    assert_eq!(found[0].family_id(), Some("1"));

    // Our app gets its own non-family token: now known outside any family, only its own.
    cache.write_token_response(
        &write(&["s"]).with_refresh_token("own", None::<String>),
        t0(),
    );
    let found = cache.find_refresh_tokens(&rtq(CLIENT));
    assert_eq!(
        found
            .iter()
            .map(|r| r.secret().secret())
            .collect::<Vec<_>>(),
        ["own"]
    );

    // Our app is a family member: the family token first, then its own.
    cache.write_token_response(
        &write(&["s"]).with_refresh_token("own-family", Some("1")),
        t0() + Duration::seconds(10),
    );
    let found = cache.find_refresh_tokens(&rtq(CLIENT));
    let secrets: Vec<&str> = found.iter().map(|r| r.secret().secret()).collect();
    assert_eq!(secrets, ["own-family", "frt"], "newest family token first");
    // No account, no refresh token.
    assert!(
        cache
            .find_refresh_tokens(&RefreshTokenQuery::new(CLIENT, "", &ALIASES))
            .is_empty()
    );
    // Environment must match.
    assert!(
        cache
            .find_refresh_token(&RefreshTokenQuery::new(
                CLIENT,
                HOME,
                &["login.microsoftonline.us"]
            ))
            .is_none()
    );
}

#[test]
fn refresh_tokens_are_replaced_and_removed() {
    let cache = TokenCache::new();
    // A refresh token written by MSAL Python under its per-target key.
    let python = format!(
        r#"{{"RefreshToken": {{"py-key": {{"credential_type": "RefreshToken", "secret": "old",
        "home_account_id": "{HOME}", "environment": "{ENV}", "client_id": "{CLIENT}",
        "target": "s", "last_modification_time": "1"}}}}}}"#
    );
    cache.replace_document(CacheDocument::from_json(python.as_bytes()).unwrap());
    let rtq = RefreshTokenQuery::new(CLIENT, HOME, &ALIASES);
    let old = cache.find_refresh_token(&rtq).unwrap();
    assert_eq!(old.key(), "py-key");
    // Redeeming it gives a new one, which replaces it.
    cache.write_token_response(
        &write(&["s"])
            .with_refresh_token("new", None::<String>)
            .replacing_refresh_token(&old),
        t0(),
    );
    let all = cache.find_refresh_tokens(&rtq);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].secret().secret(), "new");
    // invalid_grant: the caller removes it.
    assert!(cache.remove_refresh_token(&all[0]));
    assert!(!cache.remove_refresh_token(&all[0]));
    assert!(cache.find_refresh_token(&rtq).is_none());
}

#[test]
fn mixed_case_keys_are_replaced_not_duplicated() {
    let upper = keys::access_token(HOME, ENV, CLIENT, "organizations", "s").to_uppercase();
    let doc = format!(
        r#"{{"AccessToken": {{"{upper}": {{"credential_type": "AccessToken", "secret": "old",
        "home_account_id": "{HOME}", "environment": "{ENV}", "client_id": "{CLIENT}",
        "realm": "organizations", "target": "s", "expires_on": "9999999999"}}}}}}"#
    );
    let cache = TokenCache::from_document(CacheDocument::from_json(doc.as_bytes()).unwrap());
    assert!(
        cache
            .find_access_token(&query("organizations", &["S"]), t0())
            .is_some()
    );
    cache.write_token_response(&write(&["s"]).with_access_token("new", 3600), t0());
    let doc = cache.document();
    let keys: Vec<&str> = doc.access_tokens().map(|(k, _)| k).collect();
    assert_eq!(keys, [upper.to_lowercase()]);
}

#[test]
fn remove_account_signs_out_of_this_client_and_the_family() {
    let cache = TokenCache::new();
    cache.write_token_response(
        &write(&["s"])
            .with_access_token("at", 3600)
            .with_refresh_token("rt", None::<String>)
            .with_id_token("id")
            .with_account(AccountWrite::new("oid", "alice")),
        t0(),
    );
    cache.write_token_response(
        &TokenWrite::new(OTHER_CLIENT, ENV, "organizations", &["s"])
            .with_home_account_id(HOME)
            .with_refresh_token("frt", Some("1")),
        t0(),
    );
    cache.write_token_response(
        &TokenWrite::new("third-client", ENV, "organizations", &["s"])
            .with_home_account_id(HOME)
            .with_refresh_token("unrelated", None::<String>),
        t0(),
    );
    cache.write_token_response(
        &TokenWrite::new(CLIENT, ENV, "organizations", &["s"])
            .with_home_account_id("bob.utid")
            .with_access_token("bob", 3600),
        t0(),
    );
    assert!(cache.find_account(HOME, &ALIASES, None).is_some());
    assert!(cache.remove_account(HOME, &ALIASES, CLIENT));
    let doc = cache.document();
    let rts: Vec<&str> = doc
        .refresh_tokens()
        .map(|(_, r)| r.secret.secret())
        .collect();
    assert_eq!(rts, ["unrelated"]);
    assert_eq!(doc.access_tokens().count(), 1, "bob's token stays");
    assert_eq!(doc.id_tokens().count(), 0);
    assert!(cache.find_account(HOME, &ALIASES, None).is_none());
    assert!(!cache.remove_account(HOME, &ALIASES, CLIENT));
    cache.clear();
    assert!(cache.is_empty());
}

#[test]
fn ten_thousand_entries_are_indexed_and_found() {
    let cache = TokenCache::new();
    let mut doc = String::from("{\"AccessToken\": {");
    for i in 0..10_000 {
        if i > 0 {
            doc.push(',');
        }
        let home = format!("user{}.utid", i % 100);
        let scope = format!("api://app{}/.default", i / 100);
        doc.push_str(&format!(
            r#""k{i}": {{"credential_type": "AccessToken", "secret": "at{i}", "home_account_id": "{home}",
            "environment": "{ENV}", "client_id": "{CLIENT}", "realm": "organizations",
            "target": "{scope} openid", "expires_on": "9999999999"}}"#
        ));
    }
    doc.push_str("}}");
    cache.replace_document(CacheDocument::from_json(doc.as_bytes()).unwrap());
    assert_eq!(cache.len(), 10_000);
    for i in [0, 1, 4_242, 9_999] {
        let home = format!("user{}.utid", i % 100);
        let scope = format!("API://APP{}/.default", i / 100);
        let scopes = ["openid", scope.as_str()];
        let q = AccessTokenQuery::new(CLIENT, &home, "organizations", &ALIASES, &scopes);
        assert_eq!(
            cache.find_access_token(&q, t0()).unwrap().secret().secret(),
            format!("at{i}")
        );
    }
    let scopes = ["api://app100/.default"];
    let q = AccessTokenQuery::new(CLIENT, "user0.utid", "organizations", &ALIASES, &scopes);
    assert!(cache.find_access_token(&q, t0()).is_none());
}

#[test]
fn readers_on_many_threads_see_whole_snapshots_while_a_writer_writes() {
    let cache = Arc::new(TokenCache::new());
    cache.write_token_response(&write(&["stable"]).with_access_token("stable", 3600), t0());
    std::thread::scope(|s| {
        let writer = {
            let cache = Arc::clone(&cache);
            s.spawn(move || {
                for i in 0..200 {
                    let scope = format!("scope{i}");
                    cache.write_token_response(
                        &write(&[scope.as_str()]).with_access_token(format!("at{i}"), 3600),
                        t0(),
                    );
                }
            })
        };
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let cache = Arc::clone(&cache);
                s.spawn(move || {
                    for _ in 0..2_000 {
                        let hit =
                            cache.find_access_token(&query("organizations", &["stable"]), t0());
                        assert_eq!(hit.unwrap().secret().secret(), "stable");
                    }
                })
            })
            .collect();
        writer.join().unwrap();
        for r in readers {
            r.join().unwrap();
        }
    });
    assert_eq!(cache.document().access_tokens().count(), 201);
}

#[tokio::test]
async fn caches_sharing_a_backend_see_each_other_s_writes() {
    let backend = Arc::new(MemoryBackend::new());
    let a = Cache::with_backend(backend.clone());
    let b = Cache::with_backend(backend.clone());
    a.write_token_response(&write(&["s"]).with_access_token("from-a", 3600), t0())
        .await
        .unwrap();
    b.write_token_response(&write(&["t"]).with_access_token("from-b", 3600), t0())
        .await
        .unwrap();
    // a reloads before reading and sees b's token; b's write kept a's.
    let hit = a
        .find_access_token(&query("organizations", &["t"]), t0())
        .await
        .unwrap();
    assert_eq!(hit.unwrap().secret().secret(), "from-b");
    let hit = b
        .find_access_token(&query("organizations", &["s"]), t0())
        .await
        .unwrap();
    assert_eq!(hit.unwrap().secret().secret(), "from-a");
    let stored = CacheDocument::from_json(&backend.data().unwrap()).unwrap();
    assert_eq!(stored.access_tokens().count(), 2);
    // Removing through one is seen by the other.
    a.clear().await.unwrap();
    assert!(
        b.find_access_token(&query("organizations", &["s"]), t0())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_corrupt_store_is_an_error_and_is_not_overwritten() {
    let backend = Arc::new(MemoryBackend::with_data(
        b"{\"AccessToken\": {trunc".to_vec(),
    ));
    let cache = Cache::with_backend(backend.clone());
    let err = cache
        .find_access_token(&query("organizations", &["s"]), t0())
        .await
        .unwrap_err();
    assert!(
        matches!(err, entra_cache::CacheError::Corrupt { .. }),
        "{err:?}"
    );
    let err = cache
        .write_token_response(&write(&["s"]).with_access_token("at", 3600), t0())
        .await
        .unwrap_err();
    assert!(matches!(err, entra_cache::CacheError::Corrupt { .. }));
    assert_eq!(backend.data().unwrap(), b"{\"AccessToken\": {trunc");
    // As entra_core::Error: a client-authentication error that says what to do.
    let core: entra_core::Error = err.into();
    assert!(core.is_client_authentication());
    assert!(core.to_string().contains("move or delete it"), "{core}");
}

#[test]
fn caches_and_their_futures_can_cross_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let cache = Cache::in_memory();
    send_sync(&cache);
    send_sync(&TokenCache::new());
    let w = write(&["s"]);
    let aliases = vec![ENV.to_owned()];
    let scopes = ["s"];
    let q = AccessTokenQuery::new(CLIENT, HOME, "organizations", &aliases, &scopes);
    send(cache.write_token_response(&w, t0()));
    send(cache.find_access_token(&q, t0()));
    send(cache.find_refresh_tokens(&RefreshTokenQuery::new(CLIENT, HOME, &aliases)));
    send(cache.clear());
}

/// An `expires_on` no date can hold (past year 9999, from a hostile or broken cache file) is
/// invalid data: the token is not served (the caller refreshes), never as "expires in 1970".
#[test]
fn an_unrepresentable_expiry_is_never_served() {
    let cache = TokenCache::new();
    let key = keys::access_token(
        HOME,
        ENV,
        CLIENT,
        "organizations",
        "https://graph.microsoft.com/.default",
    );
    let doc = format!(
        r#"{{"AccessToken": {{"{key}": {{
            "home_account_id": "{HOME}", "environment": "{ENV}", "credential_type": "AccessToken",
            "client_id": "{CLIENT}", "secret": "far-future-at", "realm": "organizations",
            "target": "https://graph.microsoft.com/.default",
            "cached_at": "1800000000", "expires_on": "253402300800",
            "extended_expires_on": "253402300800"
        }}}}}}"#
    );
    cache.replace_document(CacheDocument::from_json(doc.as_bytes()).unwrap());
    let scopes = ["https://graph.microsoft.com/.default"];
    assert!(
        cache
            .find_access_token(&query("organizations", &scopes), t0())
            .is_none(),
        "a year-10000 expiry must not be served"
    );
    // A writer given an absurd lifetime stores nothing servable either.
    let cache = TokenCache::new();
    cache.write_token_response(
        &write(&scopes).with_access_token("absurd-at", i64::MAX / 2),
        t0(),
    );
    assert!(
        cache
            .find_access_token(&query("organizations", &scopes), t0())
            .is_none()
    );
}
