#!/usr/bin/env bash
# Runs inside `xvfb-run dbus-run-session` (see ./test): the Rust tests, then the end-to-end tests.
set -euo pipefail

cargo nextest run --workspace --locked --no-fail-fast
# The end-to-end tests are #[ignore]d for plain `cargo test` (they need the built app and a display).
# Same package selection as above (a filter, not -p), so cargo reuses that build as it is.
cargo nextest run --workspace --locked --run-ignored only --no-fail-fast -E 'package(standby-tests)'
