//! MSAL's unified schema: the fixture written by MSAL Python reads completely and writes back
//! with every unknown field; key formats; numbers as strings.

// Helpers of integration tests may unwrap: a failing test should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use entra_cache::{
    AccessTokenQuery, CacheDocument, CacheError, RefreshTokenQuery, TokenCache, TokenWrite, keys,
};
use serde_json::Value;
use time::OffsetDateTime;

const FIXTURE: &str = include_str!("fixtures/msal-python-cache.json");
const HOME: &str = "98623898-9b91-5b56-8cfc-02b656afd11c.72f988bf-0000-4000-8000-00000000c0de";
const CLIENT: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const ENV: &str = "login.microsoftonline.com";

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

#[test]
fn every_fixture_entry_is_read() {
    let doc = CacheDocument::from_json(FIXTURE.as_bytes()).unwrap();
    assert_eq!(doc.unreadable_entries(), 0);
    assert_eq!(doc.access_tokens().count(), 2);
    assert_eq!(doc.refresh_tokens().count(), 2);
    assert_eq!(doc.id_tokens().count(), 1);
    assert_eq!(doc.accounts().count(), 1);
    assert_eq!(doc.app_metadata().count(), 1);
    assert_eq!(doc.len(), 7);

    let (_, graph) = doc
        .access_tokens()
        .find(|(_, t)| t.target.contains("graph"))
        .unwrap();
    assert_eq!(graph.home_account_id, HOME);
    assert_eq!(graph.environment, ENV);
    assert_eq!(graph.client_id, CLIENT);
    assert_eq!(graph.realm, "organizations");
    assert_eq!(graph.target, "https://graph.microsoft.com/User.Read");
    assert_eq!(graph.token_type.as_deref(), Some("Bearer"));
    assert_eq!(graph.cached_at, Some(1_795_491_391));
    assert_eq!(graph.expires_on, 1_795_494_991);
    assert_eq!(graph.extended_expires_on, Some(1_795_494_991));
    assert!(graph.secret.secret().starts_with("eyJ0eXAi"));
    // Debug never shows a token.
    assert!(!format!("{graph:?}").contains("eyJ0eXAi"));

    let (_, account) = doc.accounts().next().unwrap();
    assert_eq!(account.username, "user@example.test");
    assert_eq!(
        account.local_account_id,
        "98623898-9b91-5b56-8cfc-02b656afd11c"
    );
    assert_eq!(account.authority_type, "MSSTS");
    assert_eq!(
        account.account_source.as_deref(),
        Some("authorization_code")
    );

    for (_, rt) in doc.refresh_tokens() {
        assert!(rt.secret.secret().starts_with("rt."));
        assert_eq!(rt.last_modification_time, Some(1_795_491_391));
        assert!(rt.target.is_some());
        assert!(!format!("{rt:?}").contains("rt."));
    }
    let (_, id) = doc.id_tokens().next().unwrap();
    assert_eq!(id.realm, "organizations");
    let (key, meta) = doc.app_metadata().next().unwrap();
    assert_eq!(key, keys::app_metadata(ENV, CLIENT));
    assert_eq!(meta.family_id, None);
}

#[test]
fn fixture_round_trips_to_the_same_json() {
    let doc = CacheDocument::from_json(FIXTURE.as_bytes()).unwrap();
    let out = doc.to_json();
    let a: Value = serde_json::from_str(FIXTURE).unwrap();
    let b: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(a, b);
    // MSAL Python's layout: four-space indentation, numbers as strings.
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("{\n    \"AccessToken\": {\n        \""),
        "{text}"
    );
    assert!(text.contains("\"expires_on\": \"1795494991\""));
}

#[test]
fn unknown_sections_fields_and_entries_survive_a_save() {
    let mut value: Value = serde_json::from_str(FIXTURE).unwrap();
    // Unknown data in every shape MSAL Go's contract tests use.
    value["unknownEntity"] = serde_json::json!({"field1": "1", "field2": "whats"});
    value["AccessToken"]["bogus-key"] = serde_json::json!({"foo": "bar"});
    let rt_key = value["RefreshToken"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    value["RefreshToken"][&rt_key]["new_field"] = serde_json::json!({"nested": [1, 2]});
    let acct_key = value["Account"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    value["Account"][&acct_key]["client_info"] = Value::from("eyJ1aWQiOiJ1In0");
    let input = serde_json::to_vec(&value).unwrap();

    let doc = CacheDocument::from_json(&input).unwrap();
    assert_eq!(
        doc.unreadable_entries(),
        1,
        "the bogus entry is kept, unread"
    );
    assert!(doc.unknown_sections().contains_key("unknownEntity"));

    // Through a TokenCache with a write of unrelated tokens, as a real save does.
    let cache = TokenCache::from_document(doc);
    cache.write_token_response(
        &TokenWrite::new("other-client", ENV, "organizations", &["scope-a"])
            .with_home_account_id("u.t")
            .with_access_token("at-new", 3600),
        at(1_795_491_400),
    );
    let saved: Value = serde_json::from_slice(&cache.to_json()).unwrap();
    assert_eq!(saved["unknownEntity"], value["unknownEntity"]);
    assert_eq!(
        saved["AccessToken"]["bogus-key"],
        value["AccessToken"]["bogus-key"]
    );
    assert_eq!(
        saved["RefreshToken"][&rt_key],
        value["RefreshToken"][&rt_key]
    );
    assert_eq!(saved["Account"][&acct_key], value["Account"][&acct_key]);
    for section in [
        "AccessToken",
        "RefreshToken",
        "IdToken",
        "Account",
        "AppMetadata",
    ] {
        for (k, v) in value[section].as_object().unwrap() {
            assert_eq!(&saved[section][k], v, "{section} {k}");
        }
    }
}

#[test]
fn fixture_tokens_are_found_by_value_with_a_clock() {
    let cache = TokenCache::from_document(CacheDocument::from_json(FIXTURE.as_bytes()).unwrap());
    let aliases = [
        "login.windows.net",
        "login.microsoftonline.com",
        "sts.windows.net",
    ];
    let now = at(1_795_491_391 + 60);
    let q = AccessTokenQuery::new(
        CLIENT,
        HOME,
        "organizations",
        &aliases,
        &["https://graph.microsoft.com/user.read"],
    );
    let hit = cache.find_access_token(&q, now).unwrap();
    assert!(hit.secret().secret().starts_with("eyJ0eXAi"));
    assert_eq!(hit.expires_on(), at(1_795_494_991));
    assert_eq!(hit.token_type(), "Bearer");
    // The realm is the configured tenant, not the tid: another realm misses.
    let q2 = AccessTokenQuery::new(
        CLIENT,
        HOME,
        "72f988bf-0000-4000-8000-00000000c0de",
        &aliases,
        &["https://graph.microsoft.com/User.Read"],
    );
    assert!(cache.find_access_token(&q2, now).is_none());
    // The tokens expired an hour after cached_at.
    assert!(cache.find_access_token(&q, at(1_795_494_991)).is_none());

    let rts = cache.find_refresh_tokens(&RefreshTokenQuery::new(CLIENT, HOME, &aliases));
    assert_eq!(rts.len(), 2, "each sign-in wrote its own refresh token");
    assert!(rts.iter().all(|rt| rt.family_id().is_none()));
    assert!(
        cache
            .find_account(HOME, &aliases, Some("organizations"))
            .is_some()
    );
    assert!(
        cache
            .find_id_token(CLIENT, HOME, &aliases, "organizations")
            .is_some()
    );
    assert!(cache.find_app_metadata(CLIENT, &aliases).is_some());
}

#[test]
fn key_formats_are_msal_s() {
    assert_eq!(
        keys::access_token(
            HOME,
            ENV,
            CLIENT,
            "organizations",
            "https://graph.microsoft.com/User.Read"
        ),
        format!(
            "{HOME}-{ENV}-accesstoken-{CLIENT}-organizations-https://graph.microsoft.com/user.read"
        )
    );
    assert_eq!(
        keys::refresh_token("UID.UTID", "Login.Microsoftonline.com", CLIENT),
        format!("uid.utid-login.microsoftonline.com-refreshtoken-{CLIENT}--")
    );
    assert_eq!(
        keys::id_token(HOME, ENV, CLIENT, "organizations"),
        format!("{HOME}-{ENV}-idtoken-{CLIENT}-organizations-")
    );
    assert_eq!(
        keys::account(HOME, ENV, "Organizations"),
        format!("{HOME}-{ENV}-organizations")
    );
    assert_eq!(
        keys::app_metadata(ENV, CLIENT),
        format!("appmetadata-{ENV}-{CLIENT}")
    );

    // The keys written for a response are the fixture's (for the same data).
    let cache = TokenCache::new();
    cache.write_token_response(
        &TokenWrite::new(
            CLIENT,
            ENV,
            "organizations",
            &["https://graph.microsoft.com/User.Read"],
        )
        .with_home_account_id(HOME)
        .with_access_token("at", 3600)
        .with_id_token("id")
        .with_refresh_token("rt", None::<String>)
        .with_account(entra_cache::AccountWrite::new("oid", "user@example.test")),
        at(1_795_491_391),
    );
    let written = cache.document();
    let fixture = CacheDocument::from_json(FIXTURE.as_bytes()).unwrap();
    let at_key = written.access_tokens().next().unwrap().0.to_owned();
    assert!(
        fixture.access_tokens().any(|(k, _)| k == at_key),
        "{at_key}"
    );
    let id_key = written.id_tokens().next().unwrap().0.to_owned();
    assert!(fixture.id_tokens().any(|(k, _)| k == id_key));
    let acct_key = written.accounts().next().unwrap().0.to_owned();
    assert!(fixture.accounts().any(|(k, _)| k == acct_key));
    let app_key = written.app_metadata().next().unwrap().0.to_owned();
    assert!(fixture.app_metadata().any(|(k, _)| k == app_key));
    // Refresh tokens: realm and target slots empty (the key MSAL Python computes for an entry
    // without target).
    assert_eq!(
        written.refresh_tokens().next().unwrap().0,
        keys::refresh_token(HOME, ENV, CLIENT)
    );
}

#[test]
fn numbers_are_written_as_strings_and_read_from_either() {
    let input = br#"{"AccessToken": {"k": {"credential_type": "AccessToken", "secret": "s",
        "home_account_id": "h", "environment": "e", "client_id": "c", "realm": "r",
        "target": "a", "cached_at": 1000, "expires_on": "5000", "extended_expires_on": 5000.0,
        "refresh_on": null}}}"#;
    let doc = CacheDocument::from_json(input).unwrap();
    let (_, t) = doc.access_tokens().next().unwrap();
    assert_eq!(
        (
            t.cached_at,
            t.expires_on,
            t.extended_expires_on,
            t.refresh_on
        ),
        (Some(1000), 5000, Some(5000), None)
    );
    let out: Value = serde_json::from_slice(&doc.to_json()).unwrap();
    assert_eq!(out["AccessToken"]["k"]["cached_at"], "1000");
    assert_eq!(out["AccessToken"]["k"]["expires_on"], "5000");
    assert_eq!(out["AccessToken"]["k"]["extended_expires_on"], "5000");
    // An entry whose expiry is not a number is kept but never matched.
    let bad = br#"{"AccessToken": {"k": {"secret": "s", "expires_on": "soon"}}}"#;
    let doc = CacheDocument::from_json(bad).unwrap();
    assert_eq!(doc.unreadable_entries(), 1);
    let out: Value = serde_json::from_slice(&doc.to_json()).unwrap();
    assert_eq!(out["AccessToken"]["k"]["expires_on"], "soon");
}

#[test]
fn documents_that_are_not_caches_are_typed_errors() {
    for input in [
        &b"{\"AccessToken\": {\"k\": {\"secret\": \"s\", "[..], // truncated
        b"[1, 2, 3]",                                           // foreign JSON
        b"\x00\x01binary",                                      // garbage
        b"{\"AccessToken\": []}",                               // a section that is not a map
    ] {
        let err = CacheDocument::from_json(input).unwrap_err();
        assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("move or delete it"), "{err}");
    }
    // Empty input (MSAL's extensions leave an empty change-signal file) is an empty cache.
    assert!(CacheDocument::from_json(b"").unwrap().is_empty());
    assert!(CacheDocument::from_json(b" \n").unwrap().is_empty());
}

mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Arbitrary bytes never panic the parser.
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = CacheDocument::from_json(&data);
        }

        // Any JSON object of string maps round-trips as JSON.
        #[test]
        fn unknown_json_round_trips(
            extra in proptest::collection::btree_map("[a-zA-Z]{1,8}", "[ -~]{0,16}", 0..6),
            section in prop_oneof![Just("AccessToken"), Just("Account"), Just("Other")],
        ) {
            let mut value = serde_json::json!({});
            value[section] = serde_json::json!({"key": extra});
            let bytes = serde_json::to_vec(&value).unwrap();
            let doc = CacheDocument::from_json(&bytes).unwrap();
            let back: Value = serde_json::from_slice(&doc.to_json()).unwrap();
            prop_assert_eq!(back, value);
        }
    }
}
