#!/usr/bin/env bash
# The Devin docs' raw flow (API reference, v3 "usage examples"): the uncommitted change as text,
# JSON-encoded by jq, posted by curl. No secret gate, no untracked files, no base commit, no retry:
# the floor that bench/bench_create.py measures `devin-handoff create --detach` against.
#
#   DEVIN_API_URL=… DEVIN_API_KEY=cog_… DEVIN_ORG_ID=… bench/raw_flow.sh "task text"
set -euo pipefail
task="${1:?usage: raw_flow.sh TASK}"
diff="$(git diff HEAD)"
jq -n --arg task "$task" --arg diff "$diff" \
  '{title: $task, tags: ["handoff"], prompt: ($task + "\n\n```diff\n" + $diff + "\n```\n")}' \
  | curl -sS --fail -X POST "${DEVIN_API_URL:-https://api.devin.ai}/v3/organizations/${DEVIN_ORG_ID}/sessions" \
      -H "Authorization: Bearer ${DEVIN_API_KEY}" -H "Content-Type: application/json" -d @- >/dev/null
