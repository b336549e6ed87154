#!/usr/bin/env bash
# tools.sh builds the pinned chain nodes that the tests and `chainpay dev` run:
# btcd + btcctl v0.24.2 and geth v1.17.10. They are cached outside the repository in
# $CHAINPAY_TOOLS_DIR (default ~/.cache/chainpay/tools) so repeated runs are fast.
# It prints the directory holding the binaries on its last line.
set -euo pipefail

BTCD_VERSION=v0.24.2
GETH_VERSION=v1.17.10
TOOLS_DIR=${CHAINPAY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chainpay/tools}
BIN="$TOOLS_DIR/bin"
mkdir -p "$BIN"

build() { # build NAME VERSION PACKAGE
  local name=$1 version=$2 pkg=$3 stamp="$BIN/.$1.version"
  if [ -x "$BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  echo "tools: building $name $version (first run only; cached in $BIN)" >&2
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "$pkg@$version" >&2
  echo "$version" >"$stamp"
}

build btcd "$BTCD_VERSION" github.com/btcsuite/btcd
build btcctl "$BTCD_VERSION" github.com/btcsuite/btcd/cmd/btcctl
if [ "${CHAINPAY_SKIP_GETH:-}" != 1 ]; then
  build geth "$GETH_VERSION" github.com/ethereum/go-ethereum/cmd/geth
fi
echo "$BIN"
