#!/bin/sh
# Install the Debian packages cmhook needs to build and test, if any are
# missing. Idempotent and silent when everything is present. Runs apt-get as
# root, or through sudo when available.
set -eu

PACKAGES="build-essential cmake pkg-config libcurl4-openssl-dev libjansson-dev
libssl-dev libmicrohttpd-dev libsqlite3-dev libcmocka-dev libsystemd-dev
ca-certificates $*"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "bootstrap: installing missing Debian packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "bootstrap: not root and no sudo; please install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
