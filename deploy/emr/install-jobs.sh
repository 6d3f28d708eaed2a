#!/bin/bash
# EMR bootstrap action: installs the marketpulse_jobs wheel (the silver and
# gold jobs) into the nodes' Python, after checking its SHA-256, so steps
# import the code that shipped instead of shipping it per step.
#
#   install-jobs.sh s3://ARTIFACTS/jobs/marketpulse_jobs-VERSION-py3-none-any.whl SHA256
set -euo pipefail

fail() { echo "install-jobs: $*" >&2; exit 1; }
[ $# -eq 2 ] || { echo "usage: install-jobs.sh s3://BUCKET/KEY.whl SHA256" >&2; exit 2; }
src=$1 want=${2,,}
[[ $src == s3://?*/?*.whl ]] || fail "$src is not an s3://BUCKET/KEY.whl URL"
[[ $want =~ ^[0-9a-f]{64}$ ]] || fail "$2 is not a SHA-256 (64 hex digits)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
wheel="$tmp/${src##*/}"
aws s3 cp --only-show-errors "$src" "$wheel" || fail "cannot download $src"
got=$(sha256sum "$wheel" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "$src has SHA-256 $got, not $want: not installed"
run=()
[ "$(id -u)" = 0 ] || run=(sudo)
# Without its dependencies: EMR provides boto3 and pyspark, which the wheel
# declares; pip must not replace the cluster's own Spark.
"${run[@]}" python3 -m pip install --quiet --no-deps --no-index "$wheel" || fail "pip could not install $wheel"
echo "install-jobs: installed ${src##*/}"
