#!/usr/bin/env bash
# The efficacy protocol at GPU scale (docs/efficacy.md, "On a GPU"), in one
# command that keeps to a time budget:
#
#   tools/efficacy_gpu.sh [BUDGET_S] [RESULTS_DIR]     (default 540 s)
#
# Profile configs/quickstart/profiles/gpu256.py: 256 px synthetic data,
# DeepLabV3 ResNet-50 teacher, ResNet-18 student, bf16. Three phases:
#   1. data, pretext backbones and the teacher (TEACHER_ITERS, default
#      10000), with the weight rule's probe: tools/benchmark_efficacy.py
#      --probe-losses (cached: a second call reuses them); skipped when
#      STUDENT_ITERS is given (phase 2 then prepares them itself);
#   2. the students (alone, ICKD-S, KD; seeds 0 1 2), JOBS at a time in seed
#      order, at STUDENT_ITERS iterations, or, unset, as many (a multiple of
#      500, 1000 to 10000) as the time left allows at the teacher's measured
#      speed: nine student runs are budgeted at 6x a teacher iteration;
#   3. if phase 2 ran out of time: the table of the seeds whose three runs
#      finished.
# The tables, logs and plots are packed into RESULTS_DIR/efficacy_gpu.tar.gz
# (checkpoints left out). Settings by environment: PROFILE (a name in
# configs/quickstart/profiles/ or a path), WORK and PROTO (the runs'
# and the protocol's dirs), METHODS, SEEDS, JOBS, TEACHER_ITERS,
# STUDENT_ITERS, PRETEXT_ITERS, EXTRA (more benchmark options, e.g. --tiny),
# P2_RESERVE (seconds of the budget kept after phase 2, default 45), PYTHON.
# Needs mmkd's stack importable (tools/setup_env.sh, or the wheels on
# PYTHONPATH) and a GPU; on a CPU it runs, slowly.
set -uo pipefail
BUDGET=${1:-540}
RESULTS=${2:-work_dirs/efficacy_gpu256/results}
PY=${PYTHON:-python3}
PROFILE=${PROFILE:-gpu256}
WORK=${WORK:-work_dirs/efficacy_gpu256}
PROTO=${PROTO:-work_dirs/quickstart_gpu256}
EXTRA=${EXTRA:-}   # e.g. --tiny: a pipeline check on a handful of images
METHODS=${METHODS:-ickd kd}
SEEDS=${SEEDS:-0 1 2}
JOBS=${JOBS:-6}
TEACHER_ITERS=${TEACHER_ITERS:-10000}
PRETEXT_ITERS=${PRETEXT_ITERS:-1500}
START=$(date +%s)
mkdir -p "$RESULTS"
LOG="$RESULTS/driver.log"
# Run "$@" for at most $1 seconds in a process group of its own; at the
# limit the whole group (the benchmark and its pool's workers) is stopped.
# Returns the command's status (143 or 137 when stopped).
limited() {
  local limit=$1 pid dog rc
  shift
  set -m
  "$@" &
  pid=$!
  set +m
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$limit" & s=$!
    wait "$s"
    kill -TERM -- -"$pid" 2>/dev/null; sleep 5
    kill -KILL -- -"$pid" 2>/dev/null
  ) > /dev/null 2>&1 &
  dog=$!
  wait "$pid"
  rc=$?
  kill -TERM "$dog" 2>/dev/null
  wait "$dog" 2>/dev/null
  return $rc
}
say() { echo "[efficacy_gpu $(($(date +%s) - START))s] $*" | tee -a "$LOG"; }
left() { echo $((BUDGET - ($(date +%s) - START))); }
# shellcheck disable=SC2206  # METHODS and EXTRA are lists of words
BENCH=("$PY" tools/benchmark_efficacy.py --profile "$PROFILE" --work-dir
  "$WORK" --protocol-dir "$PROTO" --methods $METHODS $EXTRA)

say "budget ${BUDGET}s; $(nvidia-smi --query-gpu=name,memory.total,driver_version \
  --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
"$PY" -c 'import torch, mmcv, mmengine, mmseg; print("torch", torch.__version__,
"cuda", torch.cuda.is_available(), "mmcv", mmcv.__version__, "mmengine",
mmengine.__version__, "mmseg", mmseg.__version__)' 2>&1 | tee -a "$LOG" || exit 1

ITERS="teacher=$TEACHER_ITERS,pretext=$PRETEXT_ITERS"
rc=0
if [ -z "${STUDENT_ITERS:-}" ]; then
  say "phase 1: data, pretext, teacher ($TEACHER_ITERS iterations), probe"
  limited $(($(left) - 40)) "${BENCH[@]}" --iters "$ITERS" --probe-losses \
    > "$RESULTS/phase1.log" 2>&1
  rc=$?
  tail -n 25 "$RESULTS/phase1.log" | tee -a "$LOG"
  if [ $rc -ne 0 ]; then say "phase 1 failed (rc $rc)"; fi
else
  say "STUDENT_ITERS given: phase 2 prepares data, pretext and teacher itself"
fi

if [ $rc -eq 0 ]; then
  if [ -z "${STUDENT_ITERS:-}" ]; then
    STUDENT_ITERS=$("$PY" - "$PROTO" "$(left)" 2>>"$LOG" <<'EOF'
import json, os.path as osp, sys
proto, left = sys.argv[1], float(sys.argv[2])
rec = json.load(open(osp.join(proto, 'teacher', 'teacher_cache.json')))
per_iter = rec['train_time_s'] / rec['max_iters']
# nine student runs (six with the teacher's forward) ~ 6 teacher iterations
# per round (5.1 by their FLOPs); 120 s for the runs' start-up, probes,
# validation and CKA, and the table's diagnostics
n = int((left - 120) / (6.0 * per_iter)) // 500 * 500
print(f'teacher {per_iter * 1e3:.1f} ms/iteration, {left:.0f} s left',
      file=sys.stderr)
print(max(1000, min(10000, n)))
EOF
)
  fi
  say "phase 2: students, $STUDENT_ITERS iterations, seeds $SEEDS," \
    "$JOBS at a time"
  ITERS="$ITERS,student=$STUDENT_ITERS"
  limited $(($(left) - ${P2_RESERVE:-45})) "${BENCH[@]}" --iters "$ITERS" \
    --seeds $SEEDS --jobs "$JOBS" > "$RESULTS/phase2.log" 2>&1
  rc=$?
  tail -n 60 "$RESULTS/phase2.log" | tee -a "$LOG"
  if [ $rc -ne 0 ]; then
    done_seeds=""
    for s in $SEEDS; do
      ok=1
      for st in baseline $METHODS; do
        [ -f "$WORK/student$STUDENT_ITERS/$st/seed$s/result.json" ] || ok=0
      done
      [ $ok -eq 1 ] && done_seeds="$done_seeds $s"
    done
    say "phase 2 stopped (rc $rc); seeds finished:${done_seeds:- none}"
    if [ -n "$done_seeds" ]; then
      say "phase 3: the table of seeds$done_seeds"
      limited $(($(left) - 5)) "${BENCH[@]}" --iters "$ITERS" \
        --seeds $done_seeds --jobs 1 > "$RESULTS/phase3.log" 2>&1
      tail -n 40 "$RESULTS/phase3.log" | tee -a "$LOG"
    fi
  fi
fi
say "packing results"
find "$WORK" "$PROTO" \( -name '*.md' -o -name '*.json' \
  -o -name '*.png' -o -name '*.log' \) -size -8M -print0 2>/dev/null |
  tar --null -czf "$RESULTS/efficacy_gpu.tar.gz" -T - 2>/dev/null
ls -la "$RESULTS" | tee -a "$LOG"
say "done"
