#!/usr/bin/env bash
# Tears the demo team down: agents, tmux server and daemon (the demo-team directory stays).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${HORNETS_DEMO_DIR:-$root/demo-team}"
[ -f "$dir/hornets.json" ] || { echo "no demo team in $dir"; exit 0; }
cd "$dir"
node "$root/bin/hornets-tui.js" daemon stop || true
node "$root/bin/hornets-tui.js" down
