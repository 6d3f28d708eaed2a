#!/bin/bash
# EMR bootstrap action: installs the producer on every node from the
# artifacts bucket, only if its SHA-256 is the one the cluster was created
# with, so a replaced or truncated object fails the node's start instead of
# writing a different dataset.
#
#   bootstrap.sh s3://ARTIFACTS/bin/marketpulse-VERSION SHA256
#
# MARKETPULSE_INSTALL_DIR moves the install (default /usr/local/bin, written
# with sudo when the bootstrap user cannot, as on EMR).
set -euo pipefail

fail() { echo "bootstrap: $*" >&2; exit 1; }
[ $# -eq 2 ] || { echo "usage: bootstrap.sh s3://BUCKET/KEY SHA256" >&2; exit 2; }
src=$1 want=${2,,}
[[ $src == s3://?*/?* ]] || fail "$src is not an s3://BUCKET/KEY URL"
[[ $want =~ ^[0-9a-f]{64}$ ]] || fail "$2 is not a SHA-256 (64 hex digits)"
dest=${MARKETPULSE_INSTALL_DIR:-/usr/local/bin}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
aws s3 cp --only-show-errors "$src" "$tmp/marketpulse" || fail "cannot download $src"
got=$(sha256sum "$tmp/marketpulse" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "$src has SHA-256 $got, not $want: not installed"
chmod 0755 "$tmp/marketpulse"
# Runs here: the wrong architecture or libc fails now, not in every task.
version=$("$tmp/marketpulse" --version) || fail "$src does not run on this node"

run=()
{ mkdir -p "$dest" 2>/dev/null && [ -w "$dest" ]; } || run=(sudo)
"${run[@]}" mkdir -p "$dest"
# Installed under a temporary name, then renamed: never half-written.
"${run[@]}" install -m 0755 "$tmp/marketpulse" "$dest/.marketpulse.new"
"${run[@]}" mv -f "$dest/.marketpulse.new" "$dest/marketpulse"
echo "bootstrap: installed $version at $dest/marketpulse"
