//! Property tests: every parser returns a value or a typed error for any input, never panics.

use entra_msal_lite::{
    Authority, AuthorityHost, AuthorityOptions, IdTokenValidation,
    endpoints::parse_instance_discovery, endpoints::parse_openid_configuration,
    id_token::decode_id_token, merge_client_capabilities, request::decorate_scopes,
    response::ClientInfo, response::parse_error_body, response::parse_retry_after,
    response::parse_token_response,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::{b64, jwt};

/// Arbitrary JSON values, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    json_tree(true)
}

/// JSON values; `floats` off keeps values exactly round-trippable through text.
fn json_tree(floats: bool) -> impl Strategy<Value = Value> {
    let float = any::<f64>()
        .prop_filter("finite", move |f| floats && f.is_finite())
        .prop_map(Value::from);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        if floats {
            float.boxed()
        } else {
            Just(Value::Null).boxed()
        },
        ".{0,24}".prop_map(Value::from),
        "[0-9]{1,20}".prop_map(Value::from),
        "https?://[a-z.]{1,12}(:[0-9]{1,5})?/[a-z{}]{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::hash_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects using the keys the parsers look at, with arbitrary values.
fn protocol_object() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "access_token",
        "refresh_token",
        "id_token",
        "expires_in",
        "ext_expires_in",
        "refresh_in",
        "token_type",
        "scope",
        "client_info",
        "foci",
        "error",
        "error_description",
        "error_codes",
        "suberror",
        "claims",
        "correlation_id",
        "trace_id",
        "tenant_discovery_endpoint",
        "metadata",
        "aliases",
        "authorization_endpoint",
        "token_endpoint",
        "issuer",
        "jwks_uri",
        "iss",
        "aud",
        "exp",
        "nonce",
        "tid",
        "sub",
        "oid",
        "uid",
        "utid",
        "access_token",
    ]);
    prop::collection::vec((keys, json_value()), 0..12).prop_map(|pairs| {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

fn authority() -> Authority {
    Authority::parse_with(
        "http://127.0.0.1:1/contoso",
        &AuthorityOptions::default().danger_allow_insecure_http(true),
    )
    .unwrap()
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![Just(200u16), Just(400), Just(429), Just(500), 100u16..600]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn authority_parsers_never_panic(s in ".{0,80}", insecure in any::<bool>(), disable in any::<bool>()) {
        let options = AuthorityOptions::default()
            .danger_allow_insecure_http(insecure)
            .with_disable_instance_discovery(disable);
        if let Ok(a) = Authority::parse_with(&s, &options) {
            // A parsed authority is canonical: parsing it again gives the same value.
            let again = Authority::parse_with(a.as_str(), &options).unwrap();
            prop_assert_eq!(&again, &a);
            let _ = a.with_tenant(&s);
            let _ = a.is_known_cloud();
        }
        let _ = Authority::oidc(&s, &options);
        if let Ok(h) = AuthorityHost::parse_with(&s, &options) {
            let _ = h.authority(&s);
        }
    }

    #[test]
    fn url_shaped_authorities_never_panic(
        scheme in prop::sample::select(vec!["https", "http", "ftp", ""]),
        host in "[a-zA-Z0-9.\\-]{0,30}(\\.b2clogin\\.com|\\.ciamlogin\\.com)?(:[0-9]{0,6})?",
        path in "(/[a-zA-Z0-9_.%\\-]{0,12}){0,4}/?",
    ) {
        let text = if scheme.is_empty() { format!("{host}{path}") } else { format!("{scheme}://{host}{path}") };
        let _ = Authority::parse(&text);
        let _ = Authority::parse_with(&text, &AuthorityOptions::default().danger_allow_insecure_http(true));
    }

    #[test]
    fn response_parsers_never_panic_on_bytes(status in status(), body in prop::collection::vec(any::<u8>(), 0..256)) {
        let now = OffsetDateTime::now_utc();
        let _ = parse_token_response(status, &body, now, None);
        let _ = parse_error_body(&body);
        let _ = parse_instance_discovery(status, &body, &authority());
        let _ = parse_openid_configuration(status, &body, &authority(), &[]);
    }

    #[test]
    fn response_parsers_never_panic_on_json(status in status(), v in protocol_object()) {
        let body = v.to_string();
        let now = OffsetDateTime::now_utc();
        if let Ok(r) = parse_token_response(status, body.as_bytes(), now, None) {
            prop_assert!(r.expires_on >= now);
            prop_assert!(!r.access_token.is_empty());
        }
        let _ = parse_error_body(body.as_bytes());
        let _ = parse_instance_discovery(status, body.as_bytes(), &authority());
        if let Ok(e) = parse_openid_configuration(status, body.as_bytes(), &authority(), &[]) {
            prop_assert_eq!(&e.aliases[0], "127.0.0.1:1");
        }
    }

    #[test]
    fn id_tokens_never_panic(s in ".{0,120}", v in protocol_object(), now in any::<i64>()) {
        let _ = decode_id_token(&s);
        let token = jwt(&v);
        if let Ok(claims) = decode_id_token(&token) {
            let endpoints = entra_msal_lite::Endpoints::known_cloud(
                &Authority::parse("https://login.microsoftonline.com/common").unwrap(),
            ).unwrap();
            let at = OffsetDateTime::from_unix_timestamp(now.rem_euclid(253_402_300_000)).unwrap();
            let _ = IdTokenValidation::new("client", &endpoints).at(at).check(&claims);
            let _ = entra_msal_lite::id_token::authentication_record(&claims, None, &endpoints.authority);
        }
    }

    #[test]
    fn small_parsers_never_panic(s in ".{0,64}", v in json_value()) {
        let _ = ClientInfo::decode(&s);
        let _ = ClientInfo::decode(&b64(&v.to_string()));
        let _ = merge_client_capabilities(Some(&s), true);
        let _ = merge_client_capabilities(Some(&v.to_string()), true);
        let _ = parse_retry_after(&s, OffsetDateTime::now_utc());
        let _ = decorate_scopes(&[s.as_str()]);
    }

    #[test]
    fn merged_claims_always_carry_cp1_and_keep_siblings(key in "[a-z]{1,8}", val in json_tree(false)) {
        let claims = json!({ "access_token": { key.clone(): val }, "id_token": {"k": 1} });
        let merged = merge_client_capabilities(Some(&claims.to_string()), true).unwrap().unwrap();
        let merged: Value = serde_json::from_str(&merged).unwrap();
        prop_assert_eq!(&merged["access_token"]["xms_cc"]["values"], &json!(["CP1"]));
        prop_assert_eq!(&merged["id_token"]["k"], &json!(1));
        if key != "xms_cc" {
            prop_assert_eq!(&merged["access_token"][key.as_str()], &claims["access_token"][key.as_str()]);
        }
    }
}
