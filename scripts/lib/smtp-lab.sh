# shellcheck shell=bash
# A two-host SMTP lab for tests and capture scripts: a client and a server network namespace
# joined by a veth pair, aiosmtpd listening in the server namespace (accepts any recipient,
# advertises PIPELINING), and a swaks helper in the client namespace. Traffic stays between
# the two namespaces it creates. Names carry the caller's PID so parallel runs never collide.
#
# Use: source this file, then `lab_up 4|6`, `lab_send --to a@b ...`, and `lab_down` (also
# installed as an EXIT trap by lab_up). Variables after lab_up: LAB_NS_CLI LAB_NS_SRV
# LAB_VETH_CLI LAB_VETH_SRV LAB_CLI_ADDR LAB_SRV_ADDR LAB_FAMILY LAB_WORK.

lab_in_cli() { ip netns exec "$LAB_NS_CLI" "$@"; }
lab_in_srv() { ip netns exec "$LAB_NS_SRV" "$@"; }

# Runs on every exit path: kills what runs in our namespaces and deletes them.
lab_down() {
  local ns p
  set +e
  [ -n "${LAB_SRV_PID:-}" ] && kill -TERM "$LAB_SRV_PID" 2>/dev/null && wait "$LAB_SRV_PID" 2>/dev/null
  for ns in "${LAB_NS_CLI:-}" "${LAB_NS_SRV:-}"; do
    [ -n "$ns" ] || continue
    if ip netns list | grep -qw "$ns"; then
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
      ip netns del "$ns" 2>/dev/null
    fi
  done
  [ -n "${LAB_WORK:-}" ] && [ -z "${RW_KEEP:-}" ] && rm -rf "$LAB_WORK"
  LAB_SRV_PID=""
}

# lab_up FAMILY [PORT]: builds the lab and waits until the server listens (bounded).
lab_up() {
  LAB_FAMILY=${1:-4}
  LAB_PORT=${2:-25}
  local id=$$
  LAB_NS_CLI="rwlab-c$id"; LAB_NS_SRV="rwlab-s$id"
  LAB_VETH_CLI="rwlc$id"; LAB_VETH_SRV="rwls$id"
  LAB_WORK=$(mktemp -d /tmp/rw-lab.XXXXXX)
  trap 'rc=$?; lab_down; exit $rc' EXIT
  trap 'exit 130' INT TERM HUP
  local prefix
  if [ "$LAB_FAMILY" = 6 ]; then
    LAB_CLI_ADDR="fd00:98::1"; LAB_SRV_ADDR="fd00:98::2"; prefix=64
  else
    LAB_CLI_ADDR="10.98.1.1"; LAB_SRV_ADDR="10.98.1.2"; prefix=24
  fi
  ip netns add "$LAB_NS_CLI" && ip netns add "$LAB_NS_SRV" || return 1
  ip link add "$LAB_VETH_CLI" type veth peer name "$LAB_VETH_SRV" || return 1
  ip link set "$LAB_VETH_CLI" netns "$LAB_NS_CLI"
  ip link set "$LAB_VETH_SRV" netns "$LAB_NS_SRV"
  if [ "$LAB_FAMILY" = 6 ]; then
    lab_in_cli ip -6 addr add "$LAB_CLI_ADDR/$prefix" dev "$LAB_VETH_CLI" nodad
    lab_in_srv ip -6 addr add "$LAB_SRV_ADDR/$prefix" dev "$LAB_VETH_SRV" nodad
  else
    lab_in_cli ip addr add "$LAB_CLI_ADDR/$prefix" dev "$LAB_VETH_CLI"
    lab_in_srv ip addr add "$LAB_SRV_ADDR/$prefix" dev "$LAB_VETH_SRV"
  fi
  lab_in_cli ip link set lo up; lab_in_srv ip link set lo up
  lab_in_cli ip link set "$LAB_VETH_CLI" up; lab_in_srv ip link set "$LAB_VETH_SRV" up

  cat >"$LAB_WORK/rwlab_handler.py" <<'EOF'
from aiosmtpd.handlers import Sink


class PipeliningSink(Sink):
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING"] + responses[-1:]
EOF
  local listen="$LAB_SRV_ADDR:$LAB_PORT"
  PYTHONPATH="$LAB_WORK" ip netns exec "$LAB_NS_SRV" /usr/bin/python3 -m aiosmtpd -n \
    -c rwlab_handler.PipeliningSink -l "$listen" >"$LAB_WORK/server.log" 2>&1 &
  LAB_SRV_PID=$!
  local _
  for _ in $(seq 1 100); do
    if lab_in_srv ss -Htln "sport = :$LAB_PORT" | grep -q .; then return 0; fi
    kill -0 "$LAB_SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "lab: aiosmtpd did not start:" >&2
  cat "$LAB_WORK/server.log" >&2
  return 1
}

# lab_send SWAKS-ARGS...: one SMTP session from the client namespace, bounded in time.
lab_send() {
  lab_in_cli timeout 20 swaks -"$LAB_FAMILY" --server "$LAB_SRV_ADDR" --port "$LAB_PORT" \
    --helo client.example.org --from sender@example.org --timeout 10 "$@" \
    >>"$LAB_WORK/swaks.log" 2>&1 || { echo "lab: swaks failed:" >&2; tail -n 20 "$LAB_WORK/swaks.log" >&2; return 1; }
}
