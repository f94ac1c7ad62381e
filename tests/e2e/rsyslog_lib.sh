# shellcheck shell=bash
# A private rsyslogd for end-to-end tests, on 127.0.0.1 ports the kernel picks: imudp writes
# every raw message to $DIR/udp.log, imtcp to $DIR/tcp.log. No imuxsock, its own work
# directory; an EXIT trap always stops it. Source it, then start_rsyslog_fresh (later
# stop_rsyslog / start_rsyslog on the same ports). Sets DIR, UDP_PORT, TCP_PORT; defines fail
# and wait_lines.
RSYSLOGD=/usr/sbin/rsyslogd
[ -x "$RSYSLOGD" ] || { echo "SKIP: $RSYSLOGD not installed"; exit 77; }

DIR=$(mktemp -d /tmp/rw_e2e_syslog.XXXXXX)
RSYSLOG_PID=""
stop_rsyslog() {
  if [ -n "$RSYSLOG_PID" ] && kill -0 "$RSYSLOG_PID" 2>/dev/null; then
    kill -TERM "$RSYSLOG_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$RSYSLOG_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$RSYSLOG_PID" 2>/dev/null || true
    wait "$RSYSLOG_PID" 2>/dev/null || true
  fi
  RSYSLOG_PID=""
}
cleanup() {
  stop_rsyslog
  if [ "${KEEP_E2E_DIR:-0}" = 1 ]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }

# Two free ports, chosen by the kernel, and the configuration that listens on them. Between
# choosing and rsyslogd binding another process may take one (parallel tests bind ephemeral
# ports too): start_rsyslog_fresh then tries again with other ports.
pick_ports() {
  read -r UDP_PORT TCP_PORT < <(python3 - <<'PY'
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.bind(("127.0.0.1", 0))
print(u.getsockname()[1], t.getsockname()[1])
PY
)
  cat > "$DIR/rsyslog.conf" <<CONF
# Private instance: own work directory, no imuxsock (never touches the system's /dev/log).
global(workDirectory="$DIR/work" maxMessageSize="16k")
module(load="imudp")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="fromudp") { action(type="omfile" file="$DIR/udp.log" template="raw") }
ruleset(name="fromtcp") { action(type="omfile" file="$DIR/tcp.log" template="raw") }
input(type="imudp" address="127.0.0.1" port="$UDP_PORT" ruleset="fromudp")
input(type="imtcp" address="127.0.0.1" port="$TCP_PORT" ruleset="fromtcp")
CONF
}
mkdir -p "$DIR/work"

# Starts rsyslogd on the ports chosen; returns 1 (saying why) if it exits or does not listen.
try_start_rsyslog() {
  rm -f "$DIR/rsyslogd.pid"
  "$RSYSLOGD" -n -f "$DIR/rsyslog.conf" -i "$DIR/rsyslogd.pid" >>"$DIR/rsyslogd.out" 2>&1 &
  RSYSLOG_PID=$!
  # Ready when the TCP port accepts connections (imudp binds before imtcp starts).
  for _ in $(seq 100); do
    kill -0 "$RSYSLOG_PID" 2>/dev/null || { cat "$DIR/rsyslogd.out" >&2; echo "rsyslogd exited" >&2; return 1; }
    if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1', $TCP_PORT)))" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "rsyslogd did not listen on $TCP_PORT within 10 s" >&2
  return 1
}

# (Re)starts rsyslogd on the ports already chosen (collector restarts in the middle of a test).
start_rsyslog() { try_start_rsyslog || fail "rsyslogd did not come up on $UDP_PORT/$TCP_PORT"; }

# Waits until FILE has at least N lines containing PATTERN (rsyslog writes asynchronously).
wait_lines() {
  local file=$1 pattern=$2 n=$3
  for _ in $(seq 100); do
    if [ -f "$file" ] && [ "$(grep -c -- "$pattern" "$file" || true)" -ge "$n" ]; then return 0; fi
    sleep 0.1
  done
  return 1
}


# Both inputs are rsyslogd's own: a probe sent to each lands in its file (a port that another
# process took answers too, but writes nothing there). imudp may come up after imtcp.
inputs_ready() {
  python3 -c "import socket; s=socket.create_connection(('127.0.0.1', $TCP_PORT), 2); s.sendall(b'<134>1 - probe - - - - ready\n'); s.close()" 2>/dev/null || true
  for _ in $(seq 50); do
    python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'<134>1 - probe - - - - ready', ('127.0.0.1', $UDP_PORT))"
    if grep -q ' probe ' "$DIR/udp.log" 2>/dev/null && grep -q ' probe ' "$DIR/tcp.log" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "rsyslogd not receiving on udp $UDP_PORT and tcp $TCP_PORT" >&2
  return 1
}

# The first start: fresh ports, both inputs receiving; other ports if one was taken meanwhile.
start_rsyslog_fresh() {
  local attempt
  for attempt in 1 2 3; do
    pick_ports
    if try_start_rsyslog && inputs_ready; then return 0; fi
    stop_rsyslog
    rm -f "$DIR/udp.log" "$DIR/tcp.log"
    echo "rsyslogd attempt $attempt failed (rsyslogd.out below); trying other ports" >&2
    cat "$DIR/rsyslogd.out" >&2 2>/dev/null || true
  done
  fail "rsyslogd did not come up in 3 attempts"
}
