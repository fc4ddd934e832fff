#!/usr/bin/env bash
# Make one LiteLLM virtual key per student, each with a budget and the course's models.
#   GATEWAY=https://llm.example.edu LITELLM_MASTER_KEY=sk-... ./student-keys.sh students.txt > keys.csv
# students.txt: one user name per line (the JupyterHub user names). Prints "user,key" lines: hand each
# student their key (it goes in their .env as the provider keys, see .env.example). BUDGET_USD (default 5)
# and BUDGET_DURATION (default 30d) set the budget; MODELS (JSON list) the models the key may use.
set -euo pipefail
: "${GATEWAY:?set GATEWAY to the proxy URL}" "${LITELLM_MASTER_KEY:?set LITELLM_MASTER_KEY}"
BUDGET_USD=${BUDGET_USD:-5}
BUDGET_DURATION=${BUDGET_DURATION:-30d}
MODELS=${MODELS:-'["gpt-4.1-mini","gpt-5-nano","gpt-5-mini","claude-haiku-4-5","gemini-2.5-flash-lite","openai/gpt-oss-20b","deepseek-chat"]'}
while IFS= read -r user; do
  [ -z "$user" ] && continue
  body=$(printf '{"user_id":"%s","key_alias":"student-%s","max_budget":%s,"budget_duration":"%s","models":%s}' \
         "$user" "$user" "$BUDGET_USD" "$BUDGET_DURATION" "$MODELS")
  key=$(curl -fsS "$GATEWAY/key/generate" -H "Authorization: Bearer $LITELLM_MASTER_KEY" \
        -H 'Content-Type: application/json' -d "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  echo "$user,$key"
done < "${1:?students.txt}"
