//! `entra` as kubectl's credential plugin, with the real `kubectl` (issue 22): a kubeconfig
//! `exec` entry in `client.authentication.k8s.io/v1` and `v1beta1`, a small HTTPS API server
//! that accepts only the mock's tokens, and the token served silently from the cache an
//! earlier sign-in filled. kubectl shows the plugin's stderr: a silent call prints nothing.
// Test helpers stop loudly, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Unix peers: a symlink named az, kubectl and `script`.
#![cfg(unix)]

mod common;

use std::convert::Infallible;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{Run, signing_mock};
use entra_testing::{DEFAULT_TENANT_ID, MockEntra, TestUser};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{ServerConfig, crypto::aws_lc_rs};

/// AKS's server application: the scope kubelogin asks for.
const AKS_SCOPE: &str = "6dae42f8-4368-4678-94ff-3960e28e3630/.default";

/// A Kubernetes API server stand-in on 127.0.0.1: `GET /api` answers the API versions to a
/// request whose bearer token the mock issued for AKS, `401` to anything else. Records
/// whether each request was accepted.
struct ApiServer {
    port: u16,
    ca_pem: String,
    accepted: Arc<Mutex<Vec<bool>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ApiServer {
    async fn start(mock: Arc<MockEntra>) -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let ca_pem = certified.cert.pem();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(certified.cert.der().to_vec())],
                key,
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, seen, mock) = (acceptor.clone(), seen.clone(), mock.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |req: Request<Incoming>| {
                        let (seen, mock) = (seen.clone(), mock.clone());
                        async move {
                            let ok = req
                                .headers()
                                .get(hyper::header::AUTHORIZATION)
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.strip_prefix("Bearer "))
                                .and_then(|t| mock.verify_token(t).ok())
                                .is_some_and(|claims| {
                                    claims["aud"] == "6dae42f8-4368-4678-94ff-3960e28e3630"
                                });
                            seen.lock().unwrap().push(ok);
                            let (status, body): (u16, &'static [u8]) = if ok {
                                (200, br#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}"#)
                            } else {
                                (401, br#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}"#)
                            };
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from_static(body)))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            port,
            ca_pem,
            accepted,
            task,
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A kubeconfig whose user runs `entra` with `args` through an `exec` entry of `api_version`.
fn kubeconfig(
    server: &ApiServer,
    api_version: &str,
    interactive_mode: &str,
    args: &[&str],
    env: &[(&str, &Path)],
) -> String {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(&server.ca_pem);
    let args: Vec<String> = args.iter().map(|a| format!("      - {a:?}\n")).collect();
    let env: Vec<String> = env
        .iter()
        .map(|(k, v)| {
            format!(
                "      - name: {k}\n        value: {:?}\n",
                v.display().to_string()
            )
        })
        .collect();
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: aks\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority-data: {ca}\nusers:\n- name: entra\n  user:\n    exec:\n      apiVersion: {api_version}\n      command: {command:?}\n      args:\n{args}      env:\n{env}      interactiveMode: {interactive_mode}\n      provideClusterInfo: false\ncontexts:\n- name: aks\n  context:\n    cluster: aks\n    user: entra\ncurrent-context: aks\n",
        port = server.port,
        command = env!("CARGO_BIN_EXE_entra"),
        args = args.concat(),
        env = env.concat(),
    )
}

/// `kubectl --kubeconfig PATH get --raw /api`, with no terminal.
async fn kubectl(kubeconfig: &Path) -> Option<Run> {
    kubectl_with(kubeconfig, &[]).await
}

/// `kubectl --kubeconfig PATH get --raw /api` with `env` added to its (and so the plugin's)
/// environment.
async fn kubectl_with(kubeconfig: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Option<Run> {
    let output = tokio::process::Command::new("kubectl")
        .envs(env.iter().copied())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["get", "--raw", "/api"])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(Duration::from_secs(120), output).await {
        Ok(Ok(output)) => output,
        Ok(Err(_)) => return None, // not installed
        Err(_) => panic!("kubectl ended by itself within two minutes"),
    };
    Some(Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// `kubectl --kubeconfig PATH get --raw /api` with a terminal (`script` gives it one), so that
/// kubectl tells the plugin the session is interactive; the terminal's output (stdout and
/// stderr together). `None` when `script` is not installed.
async fn kubectl_in_a_terminal(kubeconfig: &Path) -> Option<String> {
    let command = format!(
        "kubectl --kubeconfig '{}' get --raw /api",
        kubeconfig.display()
    );
    let output = tokio::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(120), output).await {
        Ok(Ok(output)) => {
            assert!(output.status.success(), "{output:?}");
            Some(String::from_utf8_lossy(&output.stdout).replace('\r', ""))
        }
        Ok(Err(_)) => None,
        Err(_) => panic!("kubectl ended by itself within two minutes"),
    }
}

/// After one sign-in, real kubectl gets its token from `entra` silently with a v1 and a
/// v1beta1 exec entry (kubectl rejects an answer of another version than it asked for), with
/// no terminal (`IfAvailable` and `Never`) and with one (`IfAvailable`); nothing is printed
/// on stderr and the mock receives no request. `headless`: no Secret Service, the cache in
/// its 0600 file (the second run is as silent as with the keyring).
async fn kubectl_gets_the_token_silently(headless: bool) {
    let user = TestUser::new("alice@contoso.com", DEFAULT_TENANT_ID);
    let (mock, dir) = signing_mock(user.clone()).await;
    let mock = Arc::new(mock);
    let ca = dir.path().join("ca.pem");
    let base = mock.base_url();
    let name = format!("entra-kubectl-{}-{headless}", std::process::id());
    let token_args = [
        "get-token",
        "--output",
        "exec-credential",
        "--scope",
        AKS_SCOPE,
        "--authority",
        base.as_str(),
        "--disable-instance-discovery",
        "--cache-name",
        name.as_str(),
    ];
    let no_bus = Path::new("unix:path=/nonexistent/entra-test-bus");
    let mut env = vec![
        ("SSL_CERT_FILE", ca.as_path()),
        ("ENTRA_TOKEN_CACHE_DIR", dir.path()),
    ];
    if headless {
        env.push(("DBUS_SESSION_BUS_ADDRESS", no_bus));
    }
    let mut sign_in = token_args.to_vec();
    sign_in.push("--device-code");
    let sign_in_env: Vec<(&str, &std::ffi::OsStr)> =
        env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let first =
        common::entra_approving_with(dir.path(), &ca, &sign_in, &mock, &user, &sign_in_env).await;
    assert_eq!(first.code, Some(0), "stderr:\n{}", first.stderr);
    if headless {
        assert!(
            first.stderr.contains("No OS secret store is usable here"),
            "{}",
            first.stderr
        );
    }
    let exec: serde_json::Value = serde_json::from_str(first.stdout.trim()).unwrap();
    // No KUBERNETES_EXEC_INFO: v1beta1, as kubelogin answers.
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1beta1");
    assert!(exec.get("spec").is_none(), "{exec}");

    let server = ApiServer::start(Arc::clone(&mock)).await;
    mock.clear_log();
    let mut runs = 0;
    for api_version in [
        "client.authentication.k8s.io/v1",
        "client.authentication.k8s.io/v1beta1",
    ] {
        for mode in ["IfAvailable", "Never"] {
            let path = dir.path().join("kubeconfig");
            std::fs::write(
                &path,
                kubeconfig(&server, api_version, mode, &token_args, &env),
            )
            .unwrap();
            let Some(run) = kubectl(&path).await else {
                entra_testing::skip_or_fail("kubectl is not installed");
                return;
            };
            runs += 1;
            assert_eq!(run.code, Some(0), "{api_version} {mode}: {}", run.stderr);
            assert!(run.stdout.contains("APIVersions"), "{}", run.stdout);
            assert_eq!(
                run.stderr, "",
                "{api_version} {mode}: a silent call prints nothing"
            );
            if mode == "IfAvailable" {
                let Some(screen) = kubectl_in_a_terminal(&path).await else {
                    entra_testing::skip_or_fail("script (util-linux) is not installed");
                    return;
                };
                runs += 1;
                assert!(
                    screen.trim().starts_with("{\"kind\":\"APIVersions\""),
                    "{api_version}, a terminal: only the answer on the screen: {screen}"
                );
            }
        }
    }
    let accepted = server.accepted.lock().unwrap().clone();
    assert!(accepted.len() >= runs, "{accepted:?}");
    assert!(accepted.iter().all(|ok| *ok), "{accepted:?}");
    assert_eq!(mock.total_requests(), 0, "served from the cache");
}

/// Issue 22: kubectl and `entra` with the OS secret store (the Secret Service in CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_the_token_silently_with_v1_and_v1beta1_exec_entries() {
    kubectl_gets_the_token_silently(false).await;
}

/// Issue 22: kubectl and `entra` on a headless machine without a Secret Service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_the_token_silently_without_a_secret_service() {
    kubectl_gets_the_token_silently(true).await;
}

/// Issue 22: kubectl gives the plugin no terminal (`interactiveMode: Never`): a paste-back
/// sign-in, which needs one, is refused at once with one line saying what to run instead; no
/// sign-in URL is printed, whatever kubectl retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_paste_back_is_refused_with_what_to_run_instead() {
    let user = TestUser::new("alice@contoso.com", DEFAULT_TENANT_ID);
    let (mock, dir) = signing_mock(user).await;
    let mock = Arc::new(mock);
    let ca = dir.path().join("ca.pem");
    let base = mock.base_url();
    let server = ApiServer::start(Arc::clone(&mock)).await;
    let args = [
        "get-token",
        "--output",
        "exec-credential",
        "--scope",
        AKS_SCOPE,
        "--authority",
        base.as_str(),
        "--disable-instance-discovery",
        "--no-cache",
        "--paste-redirect",
    ];
    let env = [
        ("SSL_CERT_FILE", ca.as_path()),
        ("ENTRA_TOKEN_CACHE_DIR", dir.path()),
    ];
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        kubeconfig(
            &server,
            "client.authentication.k8s.io/v1",
            "Never",
            &args,
            &env,
        ),
    )
    .unwrap();
    let Some(run) = kubectl(&path).await else {
        entra_testing::skip_or_fail("kubectl is not installed");
        return;
    };
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr.contains("kubectl runs entra without a terminal"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("https://"),
        "no sign-in URL: {}",
        run.stderr
    );
    assert_eq!(mock.total_requests(), 0);
}

/// Issue 22: a kubeconfig that kubelogin wrote (`exec` of `kubelogin get-token --login
/// devicecode --server-id … --client-id … --tenant-id …`) is converted by `entra kubeconfig
/// convert`; kubectl then gets its token from `entra` silently (after one sign-in with the
/// same application and tenant), the authority coming from kubectl's environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubelogin_kubeconfig_converted_by_entra_works_with_kubectl() {
    use base64::Engine as _;
    const AKS_CLIENT: &str = "80faf920-1908-4b52-b5ef-a8e7bedfc67a";
    let user = TestUser::new("alice@contoso.com", DEFAULT_TENANT_ID);
    let (mock, dir) = signing_mock(user.clone()).await;
    let mock = Arc::new(mock);
    let ca = dir.path().join("ca.pem");
    let base = mock.base_url();
    let server = ApiServer::start(Arc::clone(&mock)).await;
    let kubeconfig = dir.path().join("config");
    let ca_data = base64::engine::general_purpose::STANDARD.encode(&server.ca_pem);
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: aks\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority-data: {ca_data}\ncontexts:\n- name: aks\n  context: {{cluster: aks, user: clusterUser_rg_aks}}\ncurrent-context: aks\nusers:\n- name: clusterUser_rg_aks\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: kubelogin\n      args: [get-token, --login, devicecode, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630, --client-id, {AKS_CLIENT}, --tenant-id, {DEFAULT_TENANT_ID}, --environment, AzurePublicCloud]\n",
            port = server.port,
        ),
    )
    .unwrap();
    let entra = Path::new(env!("CARGO_BIN_EXE_entra"));
    let converted = common::entra(
        dir.path(),
        None,
        &[
            "kubeconfig",
            "convert",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--command",
            entra.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(converted.code, Some(0), "{}", converted.stderr);
    assert!(
        converted.stderr.contains("clusterUser_rg_aks"),
        "{}",
        converted.stderr
    );
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(!text.contains("kubelogin"), "{text}");

    // One sign-in with the same application and tenant fills the cache.
    // The converted entry uses the default cache (msal.cache); without a Secret Service it is
    // the file in this test's own directory, shared with no other test.
    let no_bus: &std::ffi::OsStr = "unix:path=/nonexistent/entra-test-bus".as_ref();
    let signed_in = common::entra_approving_with(
        dir.path(),
        &ca,
        &[
            "get-token",
            "--scope",
            AKS_SCOPE,
            "--tenant-id",
            DEFAULT_TENANT_ID,
            "--client-id",
            AKS_CLIENT,
            "--authority",
            &base,
            "--disable-instance-discovery",
            "--device-code",
        ],
        &mock,
        &user,
        &[("DBUS_SESSION_BUS_ADDRESS", no_bus)],
    )
    .await;
    assert_eq!(signed_in.code, Some(0), "{}", signed_in.stderr);
    mock.clear_log();
    let env: [(&str, &std::ffi::OsStr); 5] = [
        ("AZURE_AUTHORITY_HOST", base.as_ref()),
        ("ENTRA_DISABLE_INSTANCE_DISCOVERY", "1".as_ref()),
        ("SSL_CERT_FILE", ca.as_os_str()),
        ("ENTRA_TOKEN_CACHE_DIR", dir.path().as_os_str()),
        ("DBUS_SESSION_BUS_ADDRESS", no_bus),
    ];
    let Some(run) = kubectl_with(&kubeconfig, &env).await else {
        entra_testing::skip_or_fail("kubectl is not installed");
        return;
    };
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "", "silent");
    assert!(server.accepted.lock().unwrap().iter().all(|ok| *ok));
    assert_eq!(mock.total_requests(), 0);
}
