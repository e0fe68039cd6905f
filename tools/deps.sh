#!/bin/sh
# Installs the Debian packages that building and testing need; does nothing
# when they are all there.  Uses sudo when not root.
set -e
pkgs="build-essential pkg-config liblua5.4-dev lua5.4 lua-cjson-dev lua-cjson
libcurl4-openssl-dev check python3 clang libclang-rt-14-dev clang-format valgrind
curl openssl libprotobuf-c-dev protobuf-c-compiler libnghttp2-dev"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
