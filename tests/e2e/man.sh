#!/usr/bin/env bash
# The man pages p2pchat(1) and p2pchat.ini(5): they render without a
# warning (groff -ww, and man -l where man-db is installed), p2pchat(1)
# names every flag that `p2pchat --help` and each mode's --help print, and
# the KEYS section of p2pchat.ini(5) is what `p2pchat --help-config` says
# with every built plugin loaded. After adding flags, keys or plugins:
#   tests/e2e/man.sh build/release/bin/p2pchat . --update
# regenerates the KEYS section (then review and commit it).
source "$(dirname "$0")/lib.sh"
bin=$1 src=$2
man1="$src/docs/man/man1/p2pchat.1"
man5="$src/docs/man/man5/p2pchat.ini.5"
command -v groff >/dev/null || { echo "groff not installed (scripts/setup.sh --test)"; exit 77; }

# ---- the KEYS section, generated ------------------------------------------
# A configuration with every plugin built next to this p2pchat.
plugdir=$(cd "$(dirname "$bin")/../lib/p2pchat/plugins" && pwd)
{
  printf '[host]\n'
  for so in "$plugdir"/p2p_*.so; do n=${so##*/p2p_}; printf '[plugin %s]\n' "${n%.so}"; done | sort
} >"$TMP/all.ini"
# --help-config output -> roff: ".SS [section]", then ".TP/.B key/help".
gen_keys() {
  "$bin" -c "$TMP/all.ini" --help-config 2>"$TMP/gen.err" | awk '
    function esc(s) { gsub(/\\/, "\\e", s); if (s ~ /^[.'\'']/) s = "\\&" s; return s }
    /^$/ { header = 1; next }
    /^\[/ { print ".SS " esc($0); if (desc != "") { print esc(desc) } desc = ""; header = 0; help = ""; next }
    /^; / && header { desc = substr($0, 3); sub(/^[^ ]+ [^ ]+: /, "", desc); next }
    /^; / && help == "" { help = substr($0, 3); next }
    /^; / { key = substr($0, 3); sub(/ =.*/, "", key); print ".TP"; print ".B " esc(key); print esc(help); help = ""; next }
  '
}
gen_keys >"$TMP/keys.roff"
[[ -s $TMP/keys.roff ]] || { fail "p2pchat --help-config produced nothing"; cat "$TMP/gen.err"; finish; }
current() { sed -n '/^\.\\" BEGIN GENERATED KEYS$/,/^\.\\" END GENERATED KEYS$/p' "$man5" | sed '1d;$d'; }
if [[ ${3:-} == --update ]]; then
  awk -v gen="$TMP/keys.roff" '
    /^\.\\" BEGIN GENERATED KEYS$/ { print; while ((getline l < gen) > 0) print l; skip = 1; next }
    /^\.\\" END GENERATED KEYS$/ { skip = 0 }
    !skip { print }' "$man5" >"$TMP/new.5" && cp "$TMP/new.5" "$man5"
  echo "updated the KEYS section of $man5"
  exit 0
fi
if diff -u <(current) "$TMP/keys.roff" >"$TMP/keys.diff"; then
  ok "p2pchat.ini(5) documents every key of --help-config with every plugin loaded"
else
  fail "p2pchat.ini(5) KEYS section is out of date (run: tests/e2e/man.sh $bin $src --update)"
  head -n 40 "$TMP/keys.diff"
fi
for sec in "[host]" "[app chat]" "[app relay]" "[plugin relay]" "[plugin metrics]"; do
  grep -qF ".SS $sec" "$man5" && ok "p2pchat.ini(5) has $sec" || fail "p2pchat.ini(5) lacks $sec"
done

# ---- rendering ----------------------------------------------------------------
for page in "$man1" "$man5"; do
  name=${page##*/}
  if groff -man -Tutf8 -ww -z "$page" 2>"$TMP/groff.err" && [[ ! -s $TMP/groff.err ]]; then
    ok "$name renders with groff without warnings"
  else fail "$name: groff warnings"; cat "$TMP/groff.err"; fi
  if command -v man >/dev/null; then
    if MANWIDTH=80 man --warnings -l "$page" >"$TMP/man.txt" 2>"$TMP/man.err" && [[ ! -s $TMP/man.err && -s $TMP/man.txt ]]; then
      ok "$name renders with man -l without warnings"
    else fail "$name: man -l"; cat "$TMP/man.err"; fi
  fi
done

# ---- every flag of --help is in p2pchat(1) --------------------------------
# The page's source with roff escapes removed: \- -> -, font changes gone.
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' -e 's/\\(em/-/g' "$man1" >"$TMP/man1.txt"
flags=()
for mode in "" peer relay perf; do
  # shellcheck disable=SC2086
  "$bin" $mode --help >"$TMP/help.txt" || fail "p2pchat $mode --help failed"
  while read -r f; do flags+=("$f"); done < <(grep -oE -- '(^|[ ,\[])--?[a-zA-Z][a-zA-Z0-9-]*' "$TMP/help.txt" |
                                               sed -E 's/^[ ,\[]//' | sort -u)
done
((${#flags[@]} >= 20)) && ok "${#flags[@]} flag spellings in --help" || fail "only ${#flags[@]} flags found in --help"
missing=()
for f in $(printf '%s\n' "${flags[@]}" | sort -u); do
  grep -qE -- "(^|[^a-zA-Z0-9-])$f([^a-zA-Z0-9-]|$)" "$TMP/man1.txt" || missing+=("$f")
done
((${#missing[@]} == 0)) && ok "p2pchat(1) names every flag of --help" || fail "p2pchat(1) lacks: ${missing[*]}"
# And the seed's defaults are stated.
for text in "libp2p-chat" "default 4001" "Default 0"; do
  grep -qF -- "$text" "$TMP/man1.txt" && ok "p2pchat(1) states '$text'" || fail "p2pchat(1) lacks '$text'"
done
finish
