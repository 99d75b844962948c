#!/usr/bin/env bash
# Runs "$@" inside a private D-Bus session (started by dbus-run-session) that has a Secret Service:
# a throwaway gnome-keyring, unlocked, kept in a temporary folder. For machines with no desktop
# session (servers, containers, CI). Passwords stored in it are forgotten when the session ends.
set -euo pipefail
keyring_home="$(mktemp -d)"
trap 'rm -rf "$keyring_home"' EXIT
# Only the daemon sees this XDG_DATA_HOME: the app keeps its own data folder.
printf 'standby-private-session' | XDG_DATA_HOME="$keyring_home" gnome-keyring-daemon --unlock --components=secrets >/dev/null
"$@"
