#!/usr/bin/env bash
# Install the Debian 12 packages needed to build and test p2pchat, when
# they are missing. Safe to run again: it does nothing when all are there.
#   scripts/setup.sh           build dependencies
#   scripts/setup.sh --test    also what the tests need (clang for fuzzing, ...)
#   scripts/setup.sh --bench   also what bench/run.sh's report needs beyond
#                              the tests (gnuplot for the PNG plots; not CI's)
#   scripts/setup.sh --plot    also gnuplot, for the plot of scripts/soak.sh
#                              (not needed by the tests or CI)
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config git
      libuv1-dev libsodium-dev libssl-dev libprotobuf-c-dev protobuf-c-compiler libinih-dev check
      libedit-dev libsqlite3-dev)
for arg in "$@"; do
  case "$arg" in
    --test) pkgs+=(clang libclang-rt-14-dev valgrind procps iproute2 nftables iptables python3 tmux jq sqlite3
                   curl groff-base man-db systemd) ;;
    --bench) pkgs+=(clang libclang-rt-14-dev valgrind procps iproute2 nftables iptables python3 tmux jq sqlite3
                    curl groff-base man-db systemd gnuplot-nox) ;;
    --plot) pkgs+=(gnuplot-nox) ;;
    *) echo "setup: unknown option '$arg'; expected --test, --bench or --plot" >&2; exit 64 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
