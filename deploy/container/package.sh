#!/usr/bin/env bash
# Packages a host-built marketpulse binary into an image context: the
# binary, the shared libraries it links (ldd), CA certificates and a passwd
# entry for the non-root user. Then `podman build` (or docker) with
# deploy/container/Containerfile and that context.
#   deploy/container/package.sh [BINARY] [CONTEXT]
set -euo pipefail
binary=${1:-target/release/marketpulse}
context=${2:-target/container}
[ -x "$binary" ] || { echo "package.sh: $binary is not an executable: build it first (cargo build --release)" >&2; exit 2; }
certs=/etc/ssl/certs/ca-certificates.crt
[ -f "$certs" ] || { echo "package.sh: $certs is missing: install ca-certificates" >&2; exit 2; }
rm -rf "$context"
mkdir -p "$context/rootfs/usr/local/bin" "$context/rootfs/etc/ssl/certs" "$context/rootfs/tmp"
cp "$binary" "$context/rootfs/usr/local/bin/marketpulse"
cp "$certs" "$context/rootfs/etc/ssl/certs/ca-certificates.crt"
# Every library the dynamic loader would map, at its own path.
ldd "$binary" | awk '/=> \//{print $3} /^[ \t]*\//{print $1}' | while read -r lib; do
    mkdir -p "$context/rootfs$(dirname "$lib")"
    cp -L "$lib" "$context/rootfs$lib"
done
# A /tmp anyone may write, as on any Linux (engines that do not mount a tmpfs there).
chmod 1777 "$context/rootfs/tmp"
echo "marketpulse:x:10001:10001:marketpulse:/:/nonexistent" > "$context/rootfs/etc/passwd"
echo "marketpulse:x:10001:" > "$context/rootfs/etc/group"
cp "$(dirname "$0")/Containerfile" "$context/Containerfile"
echo "$context"
