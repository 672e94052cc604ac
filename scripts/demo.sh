#!/usr/bin/env bash
# Walks through the queue on a demo team: init, send, list, explain, deliver, export/import.
# Leaves the project in ./demo-team (or $HORNETS_DEMO_DIR) so you can keep playing with it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
hornets() { node "$root/bin/hornets-tui.js" "$@"; }
dir="${HORNETS_DEMO_DIR:-$root/demo-team}"
step() { printf '\n\033[1m$ hornets-tui %s\033[0m\n' "$*"; hornets "$@"; }

rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
step init --agents marie,anga,fabien --profile demo
step send marie "Plan the login feature and split it between anga and fabien"
step send anga --priority high "Build the login form first"
step send anga "Then wire the session cookie"
echo "Review anga's form once it lands" | { printf '\n\033[1m$ echo … | hornets-tui send fabien - --ttl 2h\033[0m\n'; hornets send fabien - --ttl 2h; }
step send marie --key standup-2026-11-21 "Post the stand-up summary"
step send marie --key standup-2026-11-21 "Post the stand-up summary"
step queue list
first=$(hornets queue list anga --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[1].id))')
step queue why "$first"
step queue stats
step queue export --agent anga -o "$dir/anga.jsonl"
step queue cancel "$first" --reason "superseded"
step queue show "$first"
step queue retry "$first"
step queue why "$first"
printf '\nThe demo project is in %s; try:  cd %s && node %s/bin/hornets-tui.js queue list --all\n' "$dir" "$dir" "$root"
