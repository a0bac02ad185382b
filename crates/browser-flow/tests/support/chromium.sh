#!/bin/sh
# tests/chromium.rs points $BROWSER at this script ("sh <this file> <work dir>"); the credential's
# default browser opener (the webbrowser crate) runs it with the sign-in URL as last argument.
#
# It starts Debian's Chromium headless with the flags this machine needs (no background
# networking: the network is closed), a fresh profile under <work dir>, a DevTools port chosen by
# Chromium (written to <work dir>/profile/DevToolsActivePort), and records Chromium's pid in
# <work dir>/chromium.pid. Chromium runs in a new session whose id is that pid, so the test kills
# it and every helper process it forked by that one id.
#
# --ignore-certificate-errors: the mock identity provider's certificate comes from a CA made at
# test start, which this throw-away profile has no way to trust; only 127.0.0.1 is contacted.
set -eu
dir="$1"
url="$2"
chromium="${ENTRA_TEST_CHROMIUM:-/usr/bin/chromium}"
echo "$$" > "$dir/chromium.pid"
exec setsid "$chromium" \
    --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --disable-sync \
    --no-first-run --no-default-browser-check --disable-quic \
    --disable-extensions --disable-default-apps --mute-audio \
    --ignore-certificate-errors \
    --user-data-dir="$dir/profile" \
    --remote-debugging-address=127.0.0.1 --remote-debugging-port=0 \
    "$url" >"$dir/chromium.log" 2>&1
