//! `EndpointResolver` against a mock: zero requests for known clouds, discovery, caching,
//! single-flight, error handling.

use std::sync::Arc;
use std::time::Duration;

use entra_msal_lite::{
    Authority, AuthorityOptions, MsalError, RetryPolicy, endpoints::EndpointSource,
};
use mockito::Matcher;

use crate::support::{client, client_with, insecure, mock_authority, oidc_document, resolver};

const DISCOVERY: &str = "/common/discovery/instance";

#[tokio::test]
async fn known_clouds_resolve_with_zero_requests() {
    let mut server = mockito::Server::new_async().await;
    let any_get = server
        .mock("GET", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let any_post = server
        .mock("POST", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let resolver = resolver(&server, client());
    for authority in [
        "https://login.microsoftonline.com/organizations",
        "https://login.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47",
        "https://login.chinacloudapi.cn/common",
        "https://login.microsoftonline.us/contoso.onmicrosoft.us",
    ] {
        let a = Authority::parse(authority).unwrap();
        let e = resolver.resolve(&a).await.unwrap();
        assert_eq!(e.source, EndpointSource::KnownCloud);
        assert_eq!(
            e.token_endpoint.as_str(),
            format!("{}oauth2/v2.0/token", a.as_str())
        );
        assert!(resolver.cached(&a).is_some());
        assert!(resolver.aliases(&a).len() >= 2);
    }
    any_get.assert_async().await;
    any_post.assert_async().await;
}

#[tokio::test]
async fn unknown_hosts_go_through_discovery_then_metadata_once() {
    let mut server = mockito::Server::new_async().await;
    let authority = mock_authority(&server, "contoso", &insecure());
    let host = authority.host().to_owned();
    let base = format!("{}/contoso", server.url());
    let discovery = server
        .mock("GET", DISCOVERY)
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("api-version".into(), "1.1".into()),
            Matcher::UrlEncoded(
                "authorization_endpoint".into(),
                format!("{base}/oauth2/v2.0/authorize"),
            ),
        ]))
        .match_header("client-request-id", Matcher::Any)
        .with_body(
            serde_json::json!({
                "tenant_discovery_endpoint": format!("{base}/v2.0/.well-known/openid-configuration"),
                "api-version": "1.1",
                "metadata": [{
                    "preferred_network": host,
                    "preferred_cache": "cache.contoso.test",
                    "aliases": [host, "cache.contoso.test"],
                }],
            })
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let metadata = server
        .mock("GET", "/contoso/v2.0/.well-known/openid-configuration")
        .with_body(oidc_document(
            &base,
            &format!("{}/{{tenantid}}/v2.0", server.url()),
        ))
        .expect(1)
        .create_async()
        .await;
    let resolver = resolver(&server, client());
    assert_eq!(resolver.aliases(&authority), std::slice::from_ref(&host));
    let e = resolver.resolve(&authority).await.unwrap();
    assert_eq!(e.source, EndpointSource::OpenIdConfiguration);
    assert_eq!(
        e.token_endpoint.as_str(),
        format!("{base}/oauth2/v2.0/token")
    );
    assert_eq!(e.aliases, [host.clone(), "cache.contoso.test".to_owned()]);
    assert!(e.is_alias("CACHE.contoso.test"));
    // Cached: no second request, the same value.
    let again = resolver.resolve(&authority).await.unwrap();
    assert!(Arc::ptr_eq(&e, &again));
    assert_eq!(resolver.aliases(&authority), e.aliases);
    discovery.assert_async().await;
    metadata.assert_async().await;
    // clear() forgets.
    resolver.clear();
    assert!(resolver.cached(&authority).is_none());
}

#[tokio::test]
async fn invalid_instance_is_fatal_and_names_the_option() {
    let mut server = mockito::Server::new_async().await;
    let authority = mock_authority(&server, "contoso", &insecure());
    let discovery = server
        .mock("GET", DISCOVERY)
        .match_query(Matcher::Any)
        .with_status(400)
        .with_body(r#"{"error":"invalid_instance","error_description":"AADSTS50049: Unknown or invalid instance.","error_codes":[50049]}"#)
        .expect(1)
        .create_async()
        .await;
    let metadata = server
        .mock("GET", Matcher::Regex("openid-configuration".into()))
        .expect(0)
        .create_async()
        .await;
    let err = resolver(&server, client())
        .resolve(&authority)
        .await
        .unwrap_err();
    discovery.assert_async().await;
    metadata.assert_async().await;
    assert!(matches!(err, MsalError::InvalidInstance { .. }));
    let core: entra_core::Error = err.into();
    assert_eq!(
        core.message(),
        format!(
            "Authentication failed: The authority provided, {}, is not well-known. If this \
             authority is valid and trustworthy, you can disable this check by passing in \
             'disable_instance_discovery=True' when constructing the credential.",
            server.url()
        )
    );
}

#[tokio::test]
async fn failed_discovery_fails_closed_and_names_the_switch() {
    let mut server = mockito::Server::new_async().await;
    let authority = mock_authority(&server, "contoso", &insecure());
    let base = format!("{}/contoso", server.url());
    let discovery = server
        .mock("GET", DISCOVERY)
        .match_query(Matcher::Any)
        .with_status(503)
        .expect(2)
        .create_async()
        .await;
    // The unvalidated authority is never asked for anything.
    let metadata = server
        .mock("GET", "/contoso/v2.0/.well-known/openid-configuration")
        .with_body(oidc_document(&base, &format!("{base}/v2.0")))
        .expect(0)
        .create_async()
        .await;
    let resolver = resolver(&server, client());
    let err = resolver.resolve(&authority).await.unwrap_err();
    let MsalError::InstanceDiscoveryFailed { cause, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        matches!(**cause, MsalError::HttpStatus { status: 503, .. }),
        "{cause:?}"
    );
    // The cause is said once: as the source, not again in the message.
    let said = err.to_string();
    assert!(!said.contains(&cause.to_string()), "{said}");
    assert_eq!(
        std::error::Error::source(&err).map(ToString::to_string),
        Some(cause.to_string())
    );
    // Failures are not cached: the next call asks again.
    assert!(resolver.resolve(&authority).await.is_err());
    discovery.assert_async().await;
    metadata.assert_async().await;
    let core: entra_core::Error = err.into();
    assert!(core.is_client_authentication());
    assert!(
        core.message().contains("'disable_instance_discovery=True'"),
        "{}",
        core.message()
    );
}

#[tokio::test]
async fn disabled_discovery_adfs_b2c_skip_discovery() {
    let mut server = mockito::Server::new_async().await;
    let discovery = server
        .mock("GET", DISCOVERY)
        .match_query(Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let disabled = insecure().with_disable_instance_discovery(true);
    let plain = mock_authority(&server, "contoso", &disabled);
    let adfs = mock_authority(&server, "adfs", &insecure());
    let base = server.url();
    let m1 = server
        .mock("GET", "/contoso/v2.0/.well-known/openid-configuration")
        .with_body(oidc_document(
            &format!("{base}/contoso"),
            &format!("{base}/contoso/v2.0"),
        ))
        .expect(1)
        .create_async()
        .await;
    let m2 = server
        .mock("GET", "/adfs/.well-known/openid-configuration")
        .with_body(oidc_document(
            &format!("{base}/adfs"),
            &format!("{base}/adfs"),
        ))
        .expect(1)
        .create_async()
        .await;
    let resolver = resolver(&server, client());
    let e = resolver.resolve(&plain).await.unwrap();
    assert_eq!(e.aliases, [plain.host()]);
    assert_eq!(resolver.aliases(&plain), [plain.host()]);
    let e = resolver.resolve(&adfs).await.unwrap();
    assert_eq!(e.realm(), "adfs");
    discovery.assert_async().await;
    m1.assert_async().await;
    m2.assert_async().await;
}

#[tokio::test]
async fn metadata_problems_are_typed() {
    let mut server = mockito::Server::new_async().await;
    let options = insecure().with_disable_instance_discovery(true);
    let base = server.url();
    let _missing = server
        .mock("GET", "/missing/v2.0/.well-known/openid-configuration")
        .with_status(400)
        .with_body(
            r#"{"error":"invalid_tenant","error_description":"AADSTS90002: Tenant not found."}"#,
        )
        .create_async()
        .await;
    let _evil = server
        .mock("GET", "/evil/v2.0/.well-known/openid-configuration")
        .with_body(oidc_document(
            &format!("{base}/evil"),
            "https://evil.example/evil/v2.0",
        ))
        .create_async()
        .await;
    let resolver = resolver(&server, client());

    let err = resolver
        .resolve(&mock_authority(&server, "missing", &options))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        MsalError::TenantDiscovery {
            status: Some(400),
            ..
        }
    ));
    let core: entra_core::Error = err.into();
    assert!(
        core.message().starts_with(&format!(
            "Authentication failed: Unable to get authority configuration for {base}/missing. \
         Authority would typically be in a format of https://login.microsoftonline.com/your_tenant"
        )),
        "{core}"
    );
    assert_eq!(core.status(), Some(400));

    let err = resolver
        .resolve(&mock_authority(&server, "evil", &options))
        .await
        .unwrap_err();
    assert!(matches!(err, MsalError::IssuerMismatch { .. }), "{err:?}");
}

#[tokio::test]
async fn errors_are_not_cached() {
    let mut server = mockito::Server::new_async().await;
    let options = insecure().with_disable_instance_discovery(true);
    let authority = mock_authority(&server, "contoso", &options);
    let base = format!("{}/contoso", server.url());
    let failing = server
        .mock("GET", "/contoso/v2.0/.well-known/openid-configuration")
        .with_status(500)
        .expect(1)
        .create_async()
        .await;
    let resolver = resolver(&server, client());
    let err = resolver.resolve(&authority).await.unwrap_err();
    assert!(matches!(err, MsalError::HttpStatus { status: 500, .. }));
    failing.assert_async().await;
    failing.remove_async().await;
    let ok = server
        .mock("GET", "/contoso/v2.0/.well-known/openid-configuration")
        .with_body(oidc_document(&base, &format!("{base}/v2.0")))
        .expect(1)
        .create_async()
        .await;
    assert!(resolver.resolve(&authority).await.is_ok());
    ok.assert_async().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resolutions_share_one_fetch() {
    let mut server = mockito::Server::new_async().await;
    let options = insecure().with_disable_instance_discovery(true);
    let authority = mock_authority(&server, "contoso", &options);
    let base = format!("{}/contoso", server.url());
    let body = oidc_document(&base, &format!("{base}/v2.0"));
    // The server holds its answer until every other caller waits on the first fetch.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = std::sync::Mutex::new(gate);
    let metadata = server
        .mock("GET", "/contoso/v2.0/.well-known/openid-configuration")
        .with_chunked_body(move |w| {
            let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(30));
            w.write_all(body.as_bytes())
        })
        .expect(1)
        .create_async()
        .await;
    let resolver = resolver(&server, client());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let resolver = resolver.clone();
            let authority = authority.clone();
            tokio::spawn(async move { resolver.resolve(&authority).await })
        })
        .collect();
    while resolver.pending_waiters(&authority) < 7 {
        tokio::task::yield_now().await;
    }
    release.send(()).unwrap();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap().unwrap());
    }
    metadata.assert_async().await;
    assert!(results.iter().all(|e| Arc::ptr_eq(e, &results[0])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_failures_are_shared_then_retried() {
    let mut server = mockito::Server::new_async().await;
    let options = insecure().with_disable_instance_discovery(true);
    let authority = mock_authority(&server, "contoso", &options);
    // The server holds its answer until every caller is waiting on the first fetch.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = std::sync::Mutex::new(gate);
    let failing = server
        .mock("GET", "/contoso/v2.0/.well-known/openid-configuration")
        .with_status(404)
        .with_chunked_body(move |w| {
            let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(30));
            w.write_all(b"{}")
        })
        .expect(1)
        .create_async()
        .await;
    let resolver = resolver(&server, client_with(RetryPolicy::none()));
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let resolver = resolver.clone();
            let authority = authority.clone();
            tokio::spawn(async move { resolver.resolve(&authority).await })
        })
        .collect();
    // Every caller but the one fetching waits on the fetch in flight: none can arrive late.
    while resolver.pending_waiters(&authority) < 3 {
        tokio::task::yield_now().await;
    }
    release.send(()).unwrap();
    for task in tasks {
        let err = task.await.unwrap().unwrap_err();
        assert!(matches!(
            err,
            MsalError::TenantDiscovery {
                status: Some(404),
                ..
            }
        ));
    }
    failing.assert_async().await;
}

#[tokio::test]
async fn different_authorities_resolve_independently() {
    let mut server = mockito::Server::new_async().await;
    let options = insecure().with_disable_instance_discovery(true);
    let resolver = resolver(&server, client());
    let base = server.url();
    let mut mocks = Vec::new();
    for tenant in ["a", "b"] {
        mocks.push(
            server
                .mock(
                    "GET",
                    format!("/{tenant}/v2.0/.well-known/openid-configuration").as_str(),
                )
                .with_body(oidc_document(
                    &format!("{base}/{tenant}"),
                    &format!("{base}/{tenant}/v2.0"),
                ))
                .expect(1)
                .create_async()
                .await,
        );
    }
    let a = resolver
        .resolve(&mock_authority(&server, "a", &options))
        .await
        .unwrap();
    let b = resolver
        .resolve(&mock_authority(&server, "b", &options))
        .await
        .unwrap();
    assert_eq!(a.realm(), "a");
    assert_eq!(b.realm(), "b");
    // The same authority with discovery enabled is a different cache entry.
    assert!(
        resolver
            .cached(&mock_authority(
                &server,
                "a",
                &AuthorityOptions::default().danger_allow_insecure_http(true)
            ))
            .is_none()
    );
    for m in mocks {
        m.assert_async().await;
    }
}
