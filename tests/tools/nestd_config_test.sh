#!/usr/bin/env bash
# nestd_config_test.sh NESTD: options come from a TOML --config file, the
# command line overrides it, and a key that names no option is refused with
# its name.
set -euo pipefail
NESTD="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "nestd_config_test: FAIL: $*" >&2; exit 1; }

# state-dir from the file: `backup` looks for the store there (and, with
# none, says where it looked).
cat >"$T/nestd.toml" <<TOML
# a comment
state-dir = "$T/from-file"
log-level = "warn"
TOML
rc=0
"$NESTD" --config "$T/nestd.toml" backup "$T/b1.db" >"$T/out1" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat "$T/out1"; fail "backup of no state: exit $rc, want 1"; }
grep -q "no state database in $T/from-file" "$T/out1" \
  || { cat "$T/out1"; fail "state-dir from the file was not used"; }
[ ! -e "$T/b1.db" ] || fail "a backup of nothing was written"

# The command line wins over the file.
rc=0
"$NESTD" --config "$T/nestd.toml" --state-dir "$T/from-flag" backup "$T/b2.db" \
  >"$T/out2" 2>&1 || rc=$?
grep -q "no state database in $T/from-flag" "$T/out2" \
  || { cat "$T/out2"; fail "--state-dir did not override the file"; }

# A value the option refuses is reported like a flag's.
printf 'accel = "warp"\nstate-dir = "%s/x"\n' "$T" >"$T/bad-value.toml"
rc=0
"$NESTD" --config "$T/bad-value.toml" backup "$T/b3.db" >"$T/out3" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { cat "$T/out3"; fail "bad accel: exit $rc, want 2"; }
grep -q -- "--accel" "$T/out3" || { cat "$T/out3"; fail "error does not name --accel"; }

# An unknown key is an error that names it.
printf 'state-dri = "%s/typo"\n' "$T" >"$T/typo.toml"
rc=0
"$NESTD" --config "$T/typo.toml" backup "$T/b4.db" >"$T/out4" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "unknown key accepted"
grep -q "state-dri" "$T/out4" || { cat "$T/out4"; fail "error does not name the key"; }
[ ! -e "$T/typo" ] || fail "a typo'd key created state"

# A missing file is an error too.
rc=0
"$NESTD" --config "$T/missing.toml" backup "$T/b5.db" >"$T/out5" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "missing --config file accepted"
echo "nestd_config_test: ok"
