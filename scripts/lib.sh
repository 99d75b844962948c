# Shared by ./run and ./test: install only what is missing, so a warm machine starts fast.
# shellcheck shell=bash

say() { printf '\033[1;34m==> %s\033[0m\n' "$*" >&2; }

APT_UPDATED=0
# Installs the Debian packages that are not installed yet.
need_apt() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  if [ "$APT_UPDATED" -eq 0 ]; then
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What building and running the window needs (Tauri on Linux, and a keyring for credentials).
need_app_packages() {
  need_apt build-essential pkg-config curl file libssl-dev libwebkit2gtk-4.1-dev libxdo-dev \
    libayatana-appindicator3-dev librsvg2-dev libsecret-1-dev libdbus-1-dev \
    dbus dbus-x11 gnome-keyring xvfb xauth
}

# What the tests add: WebKitWebDriver for the end-to-end tests, screenshots.
need_test_packages() {
  need_apt webkit2gtk-driver x11-utils imagemagick xdotool
}

need_tauri_driver() {
  command -v tauri-driver >/dev/null 2>&1 && return 0
  say "installing tauri-driver (builds from crates.io, about a minute)"
  cargo install tauri-driver --locked --quiet
}

# UI dependencies as the lockfile pins them, then the build the app embeds. `npm install` rather
# than `npm ci`: with this machine's npm setting omit-lockfile-registry-resolved, the lock omits
# other platforms' optional packages and `npm ci` refuses it; `npm install` honours the same pins.
need_ui_deps() {
  if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    say "installing UI packages"
    (cd ui && npm install --no-audit --no-fund --loglevel=error)
  fi
}

build_ui() {
  say "building the UI"
  (cd ui && npx vite build --logLevel warn)
}

# A display for the window: the user's, or a private Xvfb when there is none (a server, CI).
need_display() {
  if [ -n "${DISPLAY:-}" ]; then return 0; fi
  local n=99
  while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
  say "no display: starting Xvfb on :$n (take a screenshot with: DISPLAY=:$n import -window root shot.png)"
  Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
  export DISPLAY=":$n"
  for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
}
