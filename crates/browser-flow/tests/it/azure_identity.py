# Python azure-identity's side of the shared-cache tests (tests/it/shared_cache.rs): the real
# credentials with their default, encrypted persistence (msal-extensions' libsecret store), talking to
# the test's MockEntra as login.microsoftonline.com.
#
#   python azure_identity.py sign-in    <port> <ca.pem> <tenant> <scope> <cache name|-> <cae 0|1>
#       Signs in with DeviceCodeCredential: prints {"user_code": ...}, waits for the test to approve
#       it, then prints {"record": ..., "token": ...}.
#   python azure_identity.py silent     <port> <ca.pem> <tenant> <scope> <cache name|-> <cae 0|1>
#       Reads an AuthenticationRecord (JSON) from stdin; InteractiveBrowserCredential with it and
#       disable_automatic_authentication: prints {"token": ...} or {"error": ...}.
#   python azure_identity.py write      <port> <ca.pem> <tenant> <scope> <cache name|-> <cae 0|1> <n>
#       Prints {"ready": true}, waits for a line on stdin, then adds <n> tokens through the same
#       PersistedTokenCache azure-identity uses (msal's own write path, under the lock file).
#   python azure_identity.py count      <port> <ca.pem> <tenant> <scope> <cache name|-> <cae 0|1>
#       Prints {"access_tokens": [...targets...]} as a fresh process of azure-identity reads them.
import base64
import json
import os
import socket
import sys

from azure.identity import (
    AuthenticationRecord,
    DeviceCodeCredential,
    InteractiveBrowserCredential,
    TokenCachePersistenceOptions,
)
from azure.identity._persistent_cache import _load_persistent_cache

mode, port, ca, tenant, scope, name, cae = sys.argv[1:8]
port = int(port)
cae = cae == "1"
options = TokenCachePersistenceOptions() if name == "-" else TokenCachePersistenceOptions(name=name)
# ENTRA_INTEROP_AUTHORITY: "127.0.0.1:PORT" (an authority with an explicit port, instance
# discovery off) or "-" for login.microsoftonline.com.
authority = os.environ.get("ENTRA_INTEROP_AUTHORITY", "-")
where = {} if authority == "-" else {
    "authority": "https://" + authority, "disable_instance_discovery": True}

# The mock serves the real Entra host names (its certificate names them): send them to its port.
real_getaddrinfo = socket.getaddrinfo


def mock_getaddrinfo(host, p, *args, **kwargs):
    if host in ("login.microsoftonline.com", "login.windows.net", "login.microsoft.com"):
        return real_getaddrinfo("127.0.0.1", port, *args, **kwargs)
    return real_getaddrinfo(host, p, *args, **kwargs)


socket.getaddrinfo = mock_getaddrinfo


def say(value):
    print(json.dumps(value), flush=True)


if mode == "sign-in":
    def prompt(verification_uri, user_code, expires_on):
        say({"user_code": user_code})

    credential = DeviceCodeCredential(
        tenant_id=tenant,
        cache_persistence_options=options,
        prompt_callback=prompt,
        connection_verify=ca,
        **where,
    )
    record = credential.authenticate(scopes=[scope], enable_cae=cae)
    token = credential.get_token(scope, enable_cae=cae)
    say({"record": record.serialize(), "token": token.token})
elif mode == "silent":
    record = AuthenticationRecord.deserialize(sys.stdin.read())
    credential = InteractiveBrowserCredential(
        tenant_id=tenant,
        authentication_record=record,
        cache_persistence_options=options,
        disable_automatic_authentication=True,
        connection_verify=ca,
        # The record names the authority; azure-identity refuses a second one.
        **{k: v for k, v in where.items() if k != "authority"},
    )
    try:
        say({"token": credential.get_token(scope, enable_cae=cae).token})
    except Exception as error:  # the test reports what Python said
        say({"error": "%s: %s" % (type(error).__name__, error)})
elif mode == "write":
    n = int(sys.argv[8])
    cache = _load_persistent_cache(options, is_cae=cae)
    client_info = base64.urlsafe_b64encode(
        json.dumps({"uid": "py-uid", "utid": tenant}).encode()
    ).decode().rstrip("=")
    say({"ready": True, "encrypted": cache.is_encrypted})
    sys.stdin.readline()
    for i in range(n):
        cache.add({
            "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "scope": ["py-scope-%d" % i],
            "token_endpoint": "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % tenant,
            "response": {
                "access_token": "py-at-%d" % i,
                "token_type": "Bearer",
                "expires_in": 3600,
                "client_info": client_info,
            },
            "params": {},
            "data": {},
        })
    say({"done": n})
elif mode == "count":
    cache = _load_persistent_cache(options, is_cae=cae)
    tokens = cache.find(cache.CredentialType.ACCESS_TOKEN)
    say({"access_tokens": sorted(t["target"] for t in tokens)})
else:
    raise SystemExit("unknown mode " + mode)
