#!/usr/bin/env bash
# Load harness: `ivr serve` (release build) against SIPp's built-in `uac` scenario on loopback.
#
#   benches/load/sipp_load.sh RATE HOLD_MS CALLS
#
# SIPp places CALLS calls at RATE calls per second; each stays HOLD_MS after the ACK (hearing
# the hotline's prompts: real-time RTP from the server, one packet per 20 ms), then hangs up.
# Printed: SIPp's successful/failed calls, the call rate reached (from the server's call
# records: first to last INVITE), the most calls up at once, the server's resident memory at
# rest and at its peak, memory per concurrent call, the server's CPU seconds (user and system)
# and SIPp's, and media ticks run late.
# Needs: sipp (Debian package sip-tester), python3, GNU time (/usr/bin/time), a free
# 127.0.0.1:5080/5081 and RTP ports
# 20000-29999. Stops the server it started (SIGTERM) in every case.
set -euo pipefail
RATE=${1:-750}; HOLD=${2:-6000}; CALLS=${3:-8000}
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
WORK="$(mktemp -d)"
"$ROOT/target/release/ivr" serve "$ROOT/flows/complaint_940.flow" --listen 127.0.0.1:5080 \
    --data "$WORK/data" --grace 5 > "$WORK/serve.out" 2> "$WORK/serve.err" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
sleep 1
BASE=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
read -r U0 S0 < <(awk '{print $14, $15}' /proc/$PID/stat)
(cd "$WORK" && /usr/bin/time -f "%U %S" -o sipp.cpu sipp 127.0.0.1:5080 -sn uac -r "$RATE" -m "$CALLS" -d "$HOLD" -p 5081 -mp 16000 \
    -l 20000 -nostdin -timeout 600s > sipp.out 2>&1) || true
PEAK=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
read -r U1 S1 < <(awk '{print $14, $15}' /proc/$PID/stat)
TICKS=$(getconf CLK_TCK)
kill -TERM $PID; wait $PID || true
grep -E "Successful call|Failed call" "$WORK/sipp.out" | tail -2 | sed 's/  */ /g'
tail -1 "$WORK/serve.out"
python3 - "$WORK/data/cdr.jsonl" "$BASE" "$PEAK" "$(( U1 - U0 ))" "$(( S1 - S0 ))" "$TICKS" "$WORK/sipp.cpu" <<'PY'
import json, sys, datetime
path, base, peak, user, system, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
sipp_cpu = sum(float(x) for x in open(sys.argv[7]).read().split()[-2:])
def t(s):
    s = s.rstrip('Z'); a, _, b = s.partition('.')
    return datetime.datetime.fromisoformat(a).timestamp() + float('0.' + (b or '0'))
starts, ev = [], []
for line in open(path):
    c = json.loads(line)
    s, e = t(c['started_at']), t(c['ended_at'])
    starts.append(s); ev += [(s, 1), (e, -1)]
ev.sort(); cur = top = 0
for _, d in ev:
    cur += d; top = max(top, cur)
span = max(starts) - min(starts)
print(f"calls recorded {len(starts)}; call rate {len(starts) / span:.0f}/s over {span:.1f} s; "
      f"most at once {top}")
print(f"memory: {base} KiB at rest, {peak} KiB at peak, {(peak - base) / max(top, 1):.1f} KiB per "
      f"concurrent call")
print(f"CPU: server {(user + system) / hz:.1f} s (user {user / hz:.1f} s, system {system / hz:.1f} s); "
      f"SIPp {sipp_cpu:.1f} s")
PY
