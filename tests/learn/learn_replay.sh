#!/usr/bin/env bash
# Learned protection through the real binary: pcaps/learn-history.pcap establishes
# partner-firm.example and contoso-defence.co.uk as correspondents; a second process (a restart)
# replays pcaps/learn-typo.pcap, a day later, where typos of both alert with lookalike.learned
# and a brand-new unrelated domain does not. Then: the store's contents (state show/export),
# forget, thresholds, the periodic flush on packet time within one replay, 1 vs 4 workers, and
# the one-line errors for unusable state directories.
# Usage: learn_replay.sh BINARY SOURCE_DIR
set -uo pipefail
bin=$1 src=$2
history="$src/pcaps/learn-history.pcap" typo="$src/pcaps/learn-typo.pcap"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

replay() {  # replay PCAP STATE_DIR [ARGS...]: alerts on stdout
  local pcap=$1 state=$2; shift 2
  "$bin" -r "$pcap" --rules "$src/rules/default.rules" --sensor-name learn --dedup-window 0 \
    --learn --state-dir "$state" "$@"
}
# One line per alert: source, domain, protected, technique, learned (sorted: worker order varies).
summary='
import json, sys
rows = []
for line in sys.stdin:
    e = json.loads(line)
    if e.get("event_type") != "alert":
        continue
    l = e["lookalike"]
    rows.append(" ".join([l.get("source", "rcpt"), l["domain"], l["protected"], l["technique"],
                          "learned" if l.get("learned") is True else "configured",
                          str(e["alert"]["signature_id"] >= 2000000000)]))
print("\n".join(sorted(rows)))
'
# domain messages senders established, one line per stored domain.
export_summary='
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(r["domain"], r["messages"], r["senders"], "yes" if r["established"] else "no")
'
alerts() { /usr/bin/python3 -c "$summary"; }

# 1. The history alone raises nothing and establishes exactly the two correspondents.
out=$(replay "$history" "$work/s1" --stats) || bad "history replay exit $?"
[ -z "$(alerts <<<"$out")" ] || bad "history raised alerts: $(alerts <<<"$out")"
learned=$(grep '"event_type":"stats"' <<<"$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["learn"]["established"])')
[ "$learned" = 2 ] || bad "stats.learn.established = $learned, want 2"
export1=$("$bin" state export --state-dir "$work/s1" | /usr/bin/python3 -c "$export_summary")
want_export='contoso-defence.co.uk 5 2 yes
once-only.example 1 1 no
partner-firm.example 6 3 yes'
[ "$export1" = "$want_export" ] || bad "store after the history:"$'\n'"$export1"$'\n'"want:"$'\n'"$want_export"
show=$("$bin" state show --state-dir "$work/s1") || bad "state show exit $?"
grep -Eq '^partner-firm\.example +6 +3 .* yes$' <<<"$show" || bad "state show: $show"
grep -q '^3 domains, 2 established$' <<<"$show" || bad "state show footer: $show"

# 2. A restart: the typo capture against the learned state.
want_typo='dns partner-frim.example partner-firm.example transposition learned True
rcpt army.ml mil tld-omission configured False
rcpt contoso-defense.co.uk contoso-defence.co.uk bitsquatting learned True
rcpt partner-frim.example partner-firm.example transposition learned True'
typo_out=$(replay "$typo" "$work/s1") || bad "typo replay exit $?"
got=$(alerts <<<"$typo_out")
[ "$got" = "$want_typo" ] || bad "typo replay after the history:"$'\n'"$got"$'\n'"want:"$'\n'"$want_typo"
for benign in brand-new-unrelated.example partner-firm.example once-only.example; do
  grep '"event_type":"alert"' <<<"$typo_out" | grep -q "\"domain\":\"$benign\"" && bad "$benign alerted"
done
# Configured alerts keep their exact shape: no "learned" key.
grep '"domain":"army.ml"' <<<"$typo_out" | grep -q '"learned"' && bad "a configured alert carries learned"
# The typo and the new domain were recorded, not established.
export2=$("$bin" state export --state-dir "$work/s1" | /usr/bin/python3 -c "$export_summary")
for want in "partner-frim.example 1 1 no" "brand-new-unrelated.example 1 1 no" "partner-firm.example 7 3 yes"; do
  grep -qx "$want" <<<"$export2" || bad "store after the typo replay lacks '$want':"$'\n'"$export2"
done

# 3. Control: the same capture with nothing learned raises only the configured alert.
got=$(replay "$typo" "$work/empty" | alerts)
[ "$got" = "rcpt army.ml mil tld-omission configured False" ] || bad "typo replay without history: $got"

# 4. One replay of both (a day apart): the store is written and the learned rules rebuilt on
#    packet time (--learn-flush-interval, default 60 s), so the typos alert within the replay;
#    with an interval longer than the day between them they cannot. 1 and 4 workers agree.
mergecap -F pcap -a -w "$work/both.pcap" "$history" "$typo" || bad "mergecap"
got=$(replay "$work/both.pcap" "$work/w1" --workers 1 | alerts)
[ "$got" = "$want_typo" ] || bad "combined replay, 1 worker:"$'\n'"$got"
got4=$(replay "$work/both.pcap" "$work/w4" --workers 4 | alerts)
[ "$got4" = "$want_typo" ] || bad "combined replay, 4 workers:"$'\n'"$got4"
[ "$("$bin" state export --state-dir "$work/w1")" = "$("$bin" state export --state-dir "$work/w4")" ] ||
  bad "the store differs between 1 and 4 workers"
got=$(replay "$work/both.pcap" "$work/long" --learn-flush-interval 100000 | alerts)
[ "$got" = "rcpt army.ml mil tld-omission configured False" ] || bad "flush interval 100000 s still learned mid-replay: $got"

# 5. Thresholds reach the learner: with 6 messages needed, contoso-defence.co.uk (5) is not protected.
replay "$history" "$work/t6" --learn-min-messages 6 >/dev/null || bad "history with --learn-min-messages 6"
got=$(replay "$typo" "$work/t6" --learn-min-messages 6 | alerts)
grep -q contoso-defense <<<"$got" && bad "--learn-min-messages 6 still protects contoso-defence.co.uk"
grep -q '^rcpt partner-frim.example' <<<"$got" || bad "--learn-min-messages 6 lost partner-firm.example"
replay "$history" "$work/s3" --learn-min-senders 3 >/dev/null
"$bin" state show --state-dir "$work/s3" | grep -q '^3 domains, 1 established$' ||
  bad "--learn-min-senders 3: $("$bin" state show --state-dir "$work/s3" | tail -1)"

# 6. forget: the correspondent goes, its typo no longer alerts; an unknown domain is an error.
msg=$("$bin" state forget PARTNER-FIRM.example --state-dir "$work/s1") || bad "forget exit $?"
[ "$msg" = "forgot partner-firm.example" ] || bad "forget said: $msg"
err=$("$bin" state forget partner-firm.example --state-dir "$work/s1" 2>&1 >/dev/null)
status=$?
[ "$status" = 1 ] || bad "forgetting an unknown domain: exit $status, want 1"
grep -q "partner-firm.example: not in $work/s1/correspondents.sqlite" <<<"$err" || bad "forget unknown said: $err"
"$bin" state show --state-dir "$work/s1" | grep -q '^partner-firm\.example ' && bad "forgotten domain still shown"
got=$(replay "$typo" "$work/s1" | alerts)
grep -q 'partner-frim' <<<"$got" && bad "partner-frim.example alerts after forgetting partner-firm.example"
grep -q '^rcpt contoso-defense.co.uk' <<<"$got" || bad "forget removed contoso-defence.co.uk too: $got"

# 7. Unusable state: each a one-line error naming the file or directory, exit 2.
expect_error() {  # expect_error WANT_TEXT ARGS...
  local want=$1; shift
  local err status
  err=$("$bin" -r "$typo" --learn "$@" 2>&1 >/dev/null)
  status=$?
  [ "$status" = 2 ] || bad "$*: exit $status, want 2 ($err)"
  [ "$(wc -l <<<"$err")" = 1 ] || bad "$*: not one line: $err"
  grep -qF -- "$want" <<<"$err" || bad "$*: '$err' lacks '$want'"
  [ "$fail" = 0 ] && echo "ok: $err"
}
mkdir -p "$work/corrupt"
head -c 8192 /dev/urandom >"$work/corrupt/correspondents.sqlite"
expect_error "$work/corrupt/correspondents.sqlite: file is not a database" --state-dir "$work/corrupt"
touch "$work/plain"
expect_error "$work/plain/sub: cannot create: Not a directory" --state-dir "$work/plain/sub"
if id nobody >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  mkdir -m 0700 "$work/rootonly"
  chmod o+x "$work"  # nobody may reach the directory, not write in it
  expect_error "$work/rootonly/correspondents.sqlite: cannot write in $work/rootonly: Permission denied" \
    --state-dir "$work/rootonly" --user nobody
fi
"$bin" state show --state-dir "$work/nothing-here" >/dev/null 2>"$work/err"
status=$?
[ "$status" = 2 ] && grep -q "nothing-here/correspondents.sqlite: does not exist" "$work/err" ||
  bad "state show on a missing store: exit $status, $(cat "$work/err")"

[ "$fail" = 0 ] && echo "ok: learned protection"
exit $fail
