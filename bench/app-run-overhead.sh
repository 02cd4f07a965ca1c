#!/usr/bin/env bash
# What a hosted app's run endpoint adds over a direct /v1/chat/completions call with the same body:
# the published release looked up by slug, origin and key checks, the template rendered.
# Start a fresh platform first and pass its one-time bootstrap token (printed at start):
#   dotnet run -c Release --project src/Platform -- --data-dir /tmp/bench-data --port 8100 &
#   bench/app-run-overhead.sh boot_... [http://127.0.0.1:8100] [rounds]
# Needs curl and jq. Both calls generate the same 8 tokens greedily (the app's prompt is just {{message}}).
set -euo pipefail
TOKEN=$1; B=${2:-http://127.0.0.1:8100}; ROUNDS=${3:-3}; J='Content-Type: application/json'
curl -sf $B/api/admin/bootstrap -H "$J" -d "{\"token\":\"$TOKEN\",\"email\":\"root@example.com\",\"password\":\"a long password\"}" >/dev/null
curl -sf $B/api/auth/signup -H "$J" -d '{"email":"bench@example.com","password":"correct horse battery","name":"Bench"}' >/dev/null
AT=$(curl -sf $B/api/auth/token -H "$J" -d '{"email":"bench@example.com","password":"correct horse battery"}' | jq -r .access_token)
ORG=$(curl -sf $B/api/orgs -H "$J" -H "Authorization: Bearer $AT" -d '{"name":"Bench"}' | jq -r .id)
curl -sf -X PUT $B/api/orgs/$ORG/plan -H "$J" -H "Authorization: Bearer $AT" -d '{"plan":"enterprise"}' >/dev/null
KEY=$(curl -sf $B/api/orgs/$ORG/keys -H "$J" -H "Authorization: Bearer $AT" -d '{"name":"bench"}' | jq -r .secret)
APP=$(curl -sf $B/api/orgs/$ORG/apps/from-template -H "$J" -H "Authorization: Bearer $AT" -d '{"name":"Bench App","template":"blank"}' | jq -r .id)
curl -sf -X PUT $B/api/orgs/$ORG/apps/$APP/draft -H "$J" -H "Authorization: Bearer $AT" \
  -d '{"title":"Bench","prompt":"{{message}}","temperature":0,"top_p":1,"max_tokens":8,"fields":[{"name":"message","label":"M","kind":"long_text","required":true}]}' >/dev/null
curl -sf -X POST $B/api/orgs/$ORG/apps/$APP/releases -H "$J" -H "Authorization: Bearer $AT" -d '{}' >/dev/null
curl -sf -X PUT $B/api/orgs/$ORG/apps/$APP/access -H "$J" -H "Authorization: Bearer $AT" -d '{"allowed_origins":[],"requests_per_minute":10000,"monthly_tokens":100000000}' >/dev/null
AK=$(curl -sf $B/api/orgs/$ORG/apps/$APP/design -H "Authorization: Bearer $AT" | jq -r .app_key)
run() { for i in $(seq 1 40); do curl -sf -o /dev/null -w "%{time_total}\n" "$@"; done | sort -n | awk '{a[NR]=$1} END {printf "p50 %.1f ms, p90 %.1f ms (n=%d)\n", a[int(NR*0.5)]*1000, a[int(NR*0.9)]*1000, NR}'; }
for r in $(seq 1 "$ROUNDS"); do
  echo -n "round $r /v1/chat/completions:    "; run $B/v1/chat/completions -H "$J" -H "Authorization: Bearer $KEY" -H "Cache-Control: no-cache" \
    -d '{"model":"brown-llama-5m","messages":[{"role":"user","content":"Tell me about the sea."}],"max_tokens":8,"temperature":0}'
  echo -n "round $r /apps/bench-app/api/run: "; run $B/apps/bench-app/api/run -H "$J" -H "Authorization: Bearer $AK" -H "Cache-Control: no-cache" \
    -d '{"inputs":{"message":"Tell me about the sea."}}'
done
