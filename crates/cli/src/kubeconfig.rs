//! `entra kubeconfig convert`: kubelogin's `convert-kubeconfig` for `entra`. Each AKS user of
//! a kubeconfig, written either as the legacy `auth-provider: {name: azure}` (with
//! `apiserver-id`, `client-id`, `tenant-id`, `environment` in its config) or as a kubelogin
//! `exec` entry (`get-token --server-id … --client-id … --tenant-id … --environment …`), becomes
//! an `exec` entry running `entra get-token --output exec-credential` with the same server id
//! (as the scope `<server id>/.default`), tenant and client id. Other users, and everything
//! else in the file, are left as they are. The file is replaced atomically (mode 0600, a link
//! at its path replaced, never followed).

use std::path::{Path, PathBuf};

use entra_core::{Error, Result};
use serde_yaml_ng::{Mapping, Value};

/// The flags of `entra kubeconfig convert`.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct ConvertFlags {
    /// The kubeconfig to rewrite (default: the first file of $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Only this context's user.
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// The program the exec entries run (default: entra, found on PATH).
    #[arg(long, value_name = "PATH", default_value = "entra")]
    command: String,
}

impl ConvertFlags {
    pub(crate) fn into_convert(self) -> Convert {
        Convert {
            kubeconfig: self.kubeconfig,
            context: self.context,
            command: self.command,
        }
    }
}

/// What to convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Convert {
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    command: String,
}

/// The AKS login of a kubeconfig user, from either form.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AksLogin {
    server_id: String,
    client_id: Option<String>,
    tenant_id: Option<String>,
    environment: Option<String>,
    device_code: bool,
}

/// The kubeconfig `convert` works on.
fn path_of(convert: &Convert) -> Result<PathBuf> {
    if let Some(path) = &convert.kubeconfig {
        return Ok(path.clone());
    }
    if let Some(first) = std::env::var_os("KUBECONFIG")
        .and_then(|v| std::env::split_paths(&v).find(|p| !p.as_os_str().is_empty()))
    {
        return Ok(first);
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".kube").join("config"))
        .ok_or_else(|| Error::invalid_argument("no HOME: pass --kubeconfig PATH"))
}

/// The value after `flag` (`--flag value` or `--flag=value`) in an argument list.
fn flag_value(args: &[String], names: &[&str]) -> Option<String> {
    args.iter().enumerate().find_map(|(i, a)| {
        names.iter().find_map(|name| {
            if a == name {
                args.get(i + 1).cloned()
            } else {
                a.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('='))
                    .map(str::to_owned)
            }
        })
    })
}

fn string(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The AKS login a kubeconfig `user` entry holds, if it is one.
fn aks_login(user: &Value) -> Option<AksLogin> {
    if let Some(provider) = user.get("auth-provider")
        && provider.get("name").and_then(Value::as_str) == Some("azure")
    {
        let config = provider.get("config")?;
        return Some(AksLogin {
            server_id: string(config, "apiserver-id")?,
            client_id: string(config, "client-id"),
            tenant_id: string(config, "tenant-id"),
            environment: string(config, "environment"),
            device_code: false,
        });
    }
    let exec = user.get("exec")?;
    let command = exec.get("command")?.as_str()?;
    let program = Path::new(command).file_stem()?.to_str()?;
    if program != "kubelogin" {
        return None;
    }
    let args: Vec<String> = exec
        .get("args")?
        .as_sequence()?
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    if !args.iter().any(|a| a == "get-token") {
        return None;
    }
    Some(AksLogin {
        server_id: flag_value(&args, &["--server-id"])?,
        client_id: flag_value(&args, &["--client-id"]),
        tenant_id: flag_value(&args, &["--tenant-id", "-t"]),
        environment: flag_value(&args, &["--environment", "-e"]),
        device_code: flag_value(&args, &["--login", "-l"]).as_deref() == Some("devicecode"),
    })
}

/// The authority host of a kubelogin/az environment name (`None`: the public cloud).
fn authority_of(environment: &str) -> Option<&'static str> {
    match environment.to_ascii_lowercase().as_str() {
        "azureusgovernmentcloud" | "azureusgovernment" => Some("login.microsoftonline.us"),
        "azurechinacloud" => Some("login.chinacloudapi.cn"),
        _ => None,
    }
}

/// The `exec` entry that runs `command` for `login`.
fn exec_entry(login: &AksLogin, command: &str) -> Value {
    let mut args = vec![
        "get-token".to_owned(),
        "--output".to_owned(),
        "exec-credential".to_owned(),
        "--scope".to_owned(),
        format!("{}/.default", login.server_id),
    ];
    let mut push = |flag: &str, value: &Option<String>| {
        if let Some(v) = value {
            args.push(flag.to_owned());
            args.push(v.clone());
        }
    };
    push("--tenant-id", &login.tenant_id);
    push("--client-id", &login.client_id);
    push(
        "--authority",
        &login
            .environment
            .as_deref()
            .and_then(authority_of)
            .map(str::to_owned),
    );
    if login.device_code {
        args.push("--device-code".to_owned());
    }
    let mut exec = Mapping::new();
    exec.insert("apiVersion".into(), crate::kube::V1BETA1.into());
    exec.insert("command".into(), command.into());
    exec.insert(
        "args".into(),
        Value::Sequence(args.into_iter().map(Value::from).collect()),
    );
    exec.insert("env".into(), Value::Null);
    exec.insert(
        "installHint".into(),
        "entra signs in to Microsoft Entra ID for kubectl: cargo install entra-cli".into(),
    );
    exec.insert("interactiveMode".into(), "IfAvailable".into());
    exec.insert("provideClusterInfo".into(), false.into());
    let mut user = Mapping::new();
    user.insert("exec".into(), Value::Mapping(exec));
    Value::Mapping(user)
}

/// Rewrites the AKS users of `document` (only `context`'s user, when given); returns their
/// names.
fn convert_document(
    document: &mut Value,
    context: Option<&str>,
    command: &str,
) -> Result<Vec<String>> {
    let only_user = match context {
        Some(name) => Some(
            document
                .get("contexts")
                .and_then(Value::as_sequence)
                .and_then(|contexts| {
                    contexts
                        .iter()
                        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
                })
                .and_then(|c| c.get("context")?.get("user")?.as_str().map(str::to_owned))
                .ok_or_else(|| {
                    Error::invalid_argument(format!("the kubeconfig has no context named {name}"))
                })?,
        ),
        None => None,
    };
    let mut converted = Vec::new();
    let Some(users) = document.get_mut("users").and_then(Value::as_sequence_mut) else {
        return Ok(converted);
    };
    for entry in users {
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if only_user.as_ref().is_some_and(|u| *u != name) {
            continue;
        }
        let Some(login) = entry.get("user").and_then(aks_login) else {
            continue;
        };
        if let Some(map) = entry.as_mapping_mut() {
            map.insert("user".into(), exec_entry(&login, command));
            converted.push(name);
        }
    }
    Ok(converted)
}

/// `entra kubeconfig convert`: rewrites the file; returns the converted users' names.
pub(crate) fn run(convert: &Convert) -> Result<(PathBuf, Vec<String>)> {
    let path = path_of(convert)?;
    let text = crate::files::read_small(&path, 16 * 1024 * 1024).map_err(|e| {
        Error::invalid_argument(format!("cannot read the kubeconfig {}", path.display()))
            .with_source(e)
    })?;
    let mut document: Value = serde_yaml_ng::from_str(&text).map_err(|e| {
        Error::invalid_argument(format!("{} is not a kubeconfig (YAML)", path.display()))
            .with_source(e)
    })?;
    let converted = convert_document(&mut document, convert.context.as_deref(), &convert.command)?;
    if !converted.is_empty() {
        let text = serde_yaml_ng::to_string(&document).map_err(|e| {
            Error::invalid_argument("the kubeconfig could not be written back as YAML")
                .with_source(e)
        })?;
        crate::files::write_private(&path, &text).map_err(|e| {
            Error::credential_unavailable(format!("could not write {}", path.display()))
                .with_source(e)
        })?;
    }
    Ok((path, converted))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `az aks get-credentials` wrote before kubelogin, what kubelogin's
    /// `convert-kubeconfig -l devicecode` writes, and a user that is not AKS's.
    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: aks
  cluster:
    server: https://aks.example:443
contexts:
- name: legacy
  context: {cluster: aks, user: legacy-user}
- name: kubelogin
  context: {cluster: aks, user: kubelogin-user}
current-context: legacy
users:
- name: legacy-user
  user:
    auth-provider:
      name: azure
      config:
        apiserver-id: 6dae42f8-4368-4678-94ff-3960e28e3630
        client-id: 80faf920-1908-4b52-b5ef-a8e7bedfc67a
        tenant-id: 72f988bf-86f1-41af-91ab-2d7cd011db47
        environment: AzureUSGovernmentCloud
        config-mode: "1"
- name: kubelogin-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --login, devicecode, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630, --client-id, 80faf920-1908-4b52-b5ef-a8e7bedfc67a, --tenant-id, contoso.onmicrosoft.com, --environment, AzurePublicCloud]
- name: other
  user:
    token: static-token
"#;

    fn args_of(document: &Value, user: &str) -> Vec<String> {
        document["users"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|u| u["name"].as_str() == Some(user))
            .unwrap()["user"]["exec"]["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn both_aks_forms_become_entra_exec_entries_and_the_rest_is_kept() {
        let mut document: Value = serde_yaml_ng::from_str(KUBECONFIG).unwrap();
        let converted = convert_document(&mut document, None, "entra").unwrap();
        assert_eq!(converted, ["legacy-user", "kubelogin-user"]);
        let legacy = args_of(&document, "legacy-user");
        assert_eq!(
            legacy,
            [
                "get-token",
                "--output",
                "exec-credential",
                "--scope",
                "6dae42f8-4368-4678-94ff-3960e28e3630/.default",
                "--tenant-id",
                "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "--client-id",
                "80faf920-1908-4b52-b5ef-a8e7bedfc67a",
                "--authority",
                "login.microsoftonline.us"
            ]
        );
        let kubelogin = args_of(&document, "kubelogin-user");
        assert!(kubelogin.contains(&"contoso.onmicrosoft.com".to_owned()));
        assert!(kubelogin.contains(&"--device-code".to_owned()));
        assert!(!kubelogin.contains(&"--authority".to_owned()));
        let users = document["users"].as_sequence().unwrap();
        assert_eq!(users[0]["user"]["exec"]["apiVersion"], crate::kube::V1BETA1);
        assert_eq!(users[2]["user"]["token"], "static-token");
        assert_eq!(document["current-context"], "legacy");
        // Again: nothing left to convert (entra entries are not kubelogin's).
        assert!(
            convert_document(&mut document, None, "entra")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_context_selects_its_user_and_an_unknown_one_is_an_error() {
        let mut document: Value = serde_yaml_ng::from_str(KUBECONFIG).unwrap();
        let converted = convert_document(&mut document, Some("kubelogin"), "/opt/entra").unwrap();
        assert_eq!(converted, ["kubelogin-user"]);
        assert_eq!(
            document["users"][1]["user"]["exec"]["command"],
            "/opt/entra"
        );
        assert!(document["users"][0]["user"].get("auth-provider").is_some());
        let err = convert_document(&mut document, Some("nope"), "entra").unwrap_err();
        assert!(err.is_invalid_argument());
    }
}
