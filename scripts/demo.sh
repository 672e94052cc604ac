#!/usr/bin/env bash
# The README's main command: a demo team (marie, anga, fabien) on the embedded defaults — SQLite in
# ./demo-team/.hornets, a private tmux server, the `demo` agent profile (no account needed) — then
# the console. Without a terminal (CI, pipes) it walks through the same steps and leaves the team
# running for `hornets-tui attach` / `status`; `npm run demo:down` tears it down.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
hornets() { node "$root/bin/hornets-tui.js" "$@"; }
dir="${HORNETS_DEMO_DIR:-$root/demo-team}"
step() { printf '\n\033[1m$ hornets-tui %s\033[0m\n' "$*"; hornets "$@"; }

command -v tmux >/dev/null || { echo "tmux is needed (Debian/Ubuntu: apt-get install tmux)" >&2; exit 1; }
if [ -f "$dir/hornets.json" ]; then
  (cd "$dir" && hornets down --timeout 2 >/dev/null 2>&1 || true)
  (cd "$dir" && hornets daemon stop >/dev/null 2>&1 || true)
fi
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
git init -q
git -c user.email=demo@hornets -c user.name=demo commit -q --allow-empty -m "demo project"

step init --agents marie,anga,fabien --profile demo
git add -A && git -c user.email=demo@hornets -c user.name=demo commit -q -m "hornets config"
step send marie "Plan the login feature and split it between anga and fabien"
step send anga --priority high "Build the login form first"
step send fabien --ttl 2h "Review anga's form once it lands"
step up
# `up` started the engine too (`up --no-engine` would not)
printf '\nwaiting for the agents to act on their messages (the daemon nudges idle agents)…\n'
for _ in $(seq 1 60); do
  left=$(hornets queue list --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).length))')
  [ "$left" = "0" ] && break
  sleep 0.5
done
step queue list --all
step status

if [ -t 0 ] && [ -t 1 ]; then
  printf '\nStarting the console (q quits and leaves the team running; Q stops everything).\n'
  sleep 1
  exec node "$root/bin/hornets-tui.js"
fi
printf '\nThe demo team is running in %s:\n  cd %s && node %s/bin/hornets-tui.js            # the console\n  node %s/bin/hornets-tui.js attach marie         # marie'"'"'s pane (detach: Ctrl-b d)\n  npm run demo:down                               # stop everything\n' "$dir" "$dir" "$root" "$root"
