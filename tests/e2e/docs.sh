#!/usr/bin/env bash
# The SDK documentation covers the SDK: every symbol libp2pcore exports
# (core/abi/exported-symbols.txt) and every function of every service
# table (struct p2p_*_api_v1 in the public headers) is named in
# docs/reference/, every public header has its page, and the relative
# links of the SDK and operator docs lead to files that exist.
source "$(dirname "$0")/lib.sh"
src=$1
ref="$src/docs/reference"
cat "$ref"/*.md >"$TMP/all.md"

missing=()
while read -r sym; do
  grep -qE "(^|[^a-zA-Z0-9_])$sym([^a-zA-Z0-9_]|$)" "$TMP/all.md" || missing+=("$sym")
done <"$src/core/abi/exported-symbols.txt"
n=$(wc -l <"$src/core/abi/exported-symbols.txt")
((${#missing[@]} == 0)) && ok "all $n exported symbols are in docs/reference" || fail "not in docs/reference: ${missing[*]}"

for h in "$src"/core/include/p2p/*.h; do
  name=$(basename "$h" .h)
  [[ $name == p2p ]] && continue
  page="$ref/$name.md"
  [[ -f $page ]] || { fail "no page docs/reference/$name.md for p2p/$name.h"; continue; }
  # Service tables: struct p2p_..._api_v1 { ... (*fn)(...) ... }
  fns=$(awk '/^struct p2p_[a-z_]+_api_v[0-9]+ \{/ { in_api = 1 } in_api && /\(\*[a-z_]+\)\(/ { match($0, /\(\*[a-z_]+\)/); print substr($0, RSTART + 2, RLENGTH - 3) } in_api && /^\};/ { in_api = 0 }' "$h")
  for f in $fns; do
    grep -qE "\`$f\(" "$page" || fail "docs/reference/$name.md does not describe the service function $f"
  done
  [[ -n $fns ]] && ok "docs/reference/$name.md describes the $(echo $fns | wc -w) functions of its service"
done
ok "every public header has a reference page"

# Relative links.
bad=0
for doc in "$ref"/*.md "$src/docs/PLUGINS.md" "$src/docs/RELAY.md" "$src/README.md"; do
  dir=$(dirname "$doc")
  while read -r link; do
    target=${link%%#*}
    [[ -z $target || $target == http* || $target == mailto:* ]] && continue
    [[ -e $dir/$target ]] || { fail "$(basename "$doc"): broken link $link"; bad=1; }
  done < <(grep -oE '\]\([^)]+\)' "$doc" | sed -E 's/^\]\((.*)\)$/\1/')
done
((bad == 0)) && ok "relative links of README, PLUGINS, RELAY and reference resolve"
finish
