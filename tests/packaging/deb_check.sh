#!/usr/bin/env bash
# The Debian package: `cpack -G DEB` builds it; its control data (Depends, postinst,
# conffiles) and file list are what an install needs; dpkg installs it (--unpack) into a
# temporary instdir with its own admin dir, never onto this machine; its postinst, run with
# stub commands, creates the user and directories once; unpacked, the binary runs, the shipped
# configuration parses, the man page formats, and the systemd unit passes
# `systemd-analyze verify` (skipped when missing).
# Usage: deb_check.sh BUILD_DIR
set -u
build=$1
for tool in cpack dpkg-deb dpkg; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done
work=$(mktemp -d /tmp/rw-deb.XXXXXX); trap 'rm -rf "$work"' EXIT
fail=0
failed() { echo "FAIL: $*"; fail=1; }
# Build into our own directory so parallel runs and the build tree's own packages never mix.
(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; echo "FAIL: cpack"; exit 1; }
deb=$(ls "$work"/out/rcptwatch_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "FAIL: no .deb produced"; cat "$work/cpack.log"; exit 1; }

info=$(dpkg-deb -I "$deb")
grep -q '^ Package: rcptwatch$' <<<"$info" || failed "control: no Package"
grep -q '^ Depends:.*libpcap' <<<"$info" || failed "control: Depends lacks libpcap"
grep -q '^ Depends:.*adduser' <<<"$info" || failed "control: Depends lacks adduser"
grep -q 'postinst' <<<"$info" || failed "control: no postinst"
dpkg-deb -e "$deb" "$work/control"
grep -qx '/etc/rcptwatch/rcptwatch.conf' "$work/control/conffiles" || failed "rcptwatch.conf is not a conffile"
grep -q 'adduser --system' "$work/control/postinst" || failed "postinst does not create the user"
sh -n "$work/control/postinst" || failed "postinst: shell syntax"

files=$(dpkg-deb -c "$deb" | awk '{print $NF}')
for f in ./usr/sbin/rcptwatch ./etc/rcptwatch/rcptwatch.conf ./etc/rcptwatch/rules/default.rules \
         ./lib/systemd/system/rcptwatch.service ./usr/share/man/man8/rcptwatch.8; do
  grep -qx "$f" <<<"$files" || failed "package lacks $f"
done

# dpkg itself installs it (unpack: files, conffiles and status recorded) into a throwaway
# instdir with an empty admin dir of our own; no Depends are in that database, hence
# --force-depends. The postinst (configure) would run on the real system, so it is run below
# with stub commands instead.
inst="$work/inst"; admin="$work/admin"
mkdir -p "$inst" "$admin/info" "$admin/updates" "$admin/triggers"
touch "$admin/status" "$admin/available"
if dpkg --instdir="$inst" --admindir="$admin" --force-depends --unpack "$deb" >"$work/dpkg.log" 2>&1; then
  dpkg --admindir="$admin" -s rcptwatch | grep -q '^Status: install ok unpacked$' || failed "dpkg: status after unpack"
  dpkg --admindir="$admin" -L rcptwatch | grep -qx '/usr/sbin/rcptwatch' || failed "dpkg: file list lacks the binary"
  grep -qx '/etc/rcptwatch/rcptwatch.conf' "$admin/info/rcptwatch.conffiles" || failed "dpkg: conffile not registered"
  [ -x "$inst/usr/sbin/rcptwatch" ] || failed "dpkg: binary not installed"
else
  failed "dpkg --unpack"; cat "$work/dpkg.log"
fi
# postinst configure with stubs that log their arguments: a fresh install creates the system
# user and its directories; a re-configure with the user present does not add it again.
stubs="$work/stubs"; mkdir -p "$stubs"
for cmd in adduser mkdir chown chmod systemctl; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$cmd" "$work/calls" >"$stubs/$cmd"; chmod +x "$stubs/$cmd"
done
printf '#!/bin/sh\n[ -e "%s" ]\n' "$work/user-exists" >"$stubs/getent"; chmod +x "$stubs/getent"
PATH="$stubs:$PATH" sh "$work/control/postinst" configure || failed "postinst configure exited $?"
grep -q '^adduser --system --group .* rcptwatch$' "$work/calls" 2>/dev/null || failed "postinst: no system user added"
grep -qx 'chown rcptwatch:rcptwatch /var/lib/rcptwatch' "$work/calls" || failed "postinst: state dir not given to the user"
grep -qx 'mkdir -p /var/log/rcptwatch' "$work/calls" || failed "postinst: no log dir"
: >"$work/calls"; touch "$work/user-exists"
PATH="$stubs:$PATH" sh "$work/control/postinst" configure || failed "postinst re-configure exited $?"
grep -q '^adduser' "$work/calls" && failed "postinst: adds the user again on re-configure"

root="$work/root"; mkdir -p "$root"
dpkg-deb -x "$deb" "$root"
"$root/usr/sbin/rcptwatch" --version | grep -q '^rcptwatch ' || failed "packaged binary does not run"
"$root/usr/sbin/rcptwatch" -c "$root/etc/rcptwatch/rcptwatch.conf" --help >/dev/null 2>"$work/conf.err" ||
  { failed "shipped rcptwatch.conf does not parse"; cat "$work/conf.err"; }
for pack in "$root"/etc/rcptwatch/rules/*.rules; do  # each pack alone: some include others
  "$root/usr/sbin/rcptwatch" rules check "$pack" >/dev/null || failed "shipped rule pack $(basename "$pack") does not check"
done
if command -v man >/dev/null; then
  man -l "$root/usr/share/man/man8/rcptwatch.8" >/dev/null 2>"$work/man.err" || failed "man page does not format"
  [ -s "$work/man.err" ] && { failed "man page warnings"; cat "$work/man.err"; }
fi
if command -v systemd-analyze >/dev/null; then
  # Paths rewritten into the temporary root, so the unit's commands exist without installing.
  sed "s|/usr/sbin/rcptwatch|$root/usr/sbin/rcptwatch|g; s|/etc/rcptwatch|$root/etc/rcptwatch|g" \
    "$root/lib/systemd/system/rcptwatch.service" >"$work/rcptwatch.service"
  MANPATH="$root/usr/share/man" systemd-analyze verify "$work/rcptwatch.service" >"$work/verify.log" 2>&1 ||
    { failed "systemd-analyze verify"; cat "$work/verify.log"; }
else
  echo "note: systemd-analyze missing; unit not verified"
fi
[ "$fail" = 0 ] && echo "ok: $(basename "$deb") ($(stat -c %s "$deb") bytes) checks out"
exit $fail
