#!/usr/bin/env bash
# Runs "$@" inside a private D-Bus session (started by dbus-run-session) that has a Secret Service:
# a throwaway gnome-keyring, unlocked, kept in a temporary folder. For machines with no desktop
# session (servers, containers, CI). Passwords stored in it are forgotten when the session ends.
set -euo pipefail
keyring_home="$(mktemp -d)"
# The keyring daemon forks into the background, and services the bus starts for the app
# (xdg-document-portal, the portals, at-spi) do not always exit with the session's bus: stop
# every process of this session here. One left running held what it inherited: a caller's pipe
# (so `... | grep` never ended) or a benchmark's `flock` (so the next benchmark waited for ever).
# Only a bus of our own: run without dbus-run-session, the address is the desktop's, whose
# processes are not ours to stop (then only the keyring daemon is).
own_bus="none"
if [ "$(cat "/proc/$PPID/comm" 2>/dev/null)" = "dbus-run-sessio" ]; then
  own_bus="${DBUS_SESSION_BUS_ADDRESS:-none}"
fi
stop_session() {
  local p env
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [ "$p" = "$$" ] && continue
    env="$(tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" || true)"
    if grep -qxF "XDG_DATA_HOME=$keyring_home" <<<"$env" ||
      grep -qxF "DBUS_SESSION_BUS_ADDRESS=$own_bus" <<<"$env"; then
      kill "$p" 2>/dev/null || true
    fi
  done
  rm -rf "$keyring_home"
}
trap stop_session EXIT
# Only the daemon sees this XDG_DATA_HOME: the app keeps its own data folder. It gets no file
# descriptor of ours but the password on stdin.
(
  for fd in /proc/$BASHPID/fd/*; do
    fd="${fd##*/}"
    if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
  done
  printf 'standby-private-session' | XDG_DATA_HOME="$keyring_home" gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
)
"$@"
