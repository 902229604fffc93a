#!/usr/bin/env bash
# The G1 measurements of issue 14 as one detached job on a GPU machine, so that short calls can poll it
# (docs/style_rounds.md, twentieth and twenty-first rounds):
#
#   bash tools/g1_runs.sh start SEED EXTRA [OVERRIDE ...]   # G1Command seed SEED alone for 14 min, then EXTRA
#   bash tools/g1_runs.sh start_ab MINUTES "OVERRIDES A" "OVERRIDES B" ... [-- "OVERRIDES T" ...]
#       # G1Command runs (seed 1) at once; after them the throughput of each variant after --, as start_throughput
#   bash tools/g1_runs.sh start_throughput "OVERRIDES A" ...  # train throughput at 8192 envs, one row per variant
#   bash tools/g1_runs.sh poll                              # progress, falls after stops, what fails; with $OUT,
#                                                           # results
#
# Step 1 is `benchmarks/time_to_walk.py --task G1Command --engine mujoco_warp --minutes 14` with the dotted
# OVERRIDEs (none: the shipped defaults), from empty Warp and torch caches. Step 2, for 7 minutes (G1_EXTRA_MIN):
# `amp` (G1AMP as shipped beside G1AMP without the pelvis-rotation features), `23` (the 23-DOF G1), `arm` (PD gains
# and action scales from the rotor armature, tools/robot_setup.py --gains_from_armature 10 2), `beyond` (training
# commands drawn to 1.2 times each range end, env.commands.sample_beyond), `axis` (a third of the training commands
# along one axis, env.commands.single_axis_prob 0.3), `variant` (G1Command with the overrides in $G1_VARIANT),
# `throughput` (start_throughput's row of the defaults), `profile` (throughput.py --profile of the defaults, its
# tables in $RUNS/profile.log), `next_seed` (step 1 again for SEED + 1, with its overrides and length), `none`;
# several extras, comma-separated, run one after the other.
# TTW_ARGS go to every time_to_walk.py (e.g. --stop_but_classifier: a seed ends when it passes everything but the
# classifier). Runs go to /tmp/ttw_<name>, logs to /tmp/awd-runs; jobs run from a copy of the checkout in
# /tmp/awd-source.
# With the offline GPU stack (shared/gpu-offline), set AWD_GPU_ENV to its env.sh (an absolute path). `poll`
# copies each run's small files to $OUT/runs.tgz, its best-style snapshot to $OUT/best_<run>.pth and, once it
# ended, the checkpoint that ended it early, if one did, to $OUT/stop_<run>.pth.
set -u
cd "$(dirname "$0")/.."
RUNS=/tmp/awd-runs
SOURCE=/tmp/awd-source

detach() {  # run this script's function $1 with the rest as arguments, in its own session, from a copy of the
  # checkout: a later device call re-syncs the checkout, and a run that read a file during the sync died
  mkdir -p $RUNS $SOURCE && rm -f $RUNS/done
  tar --exclude='./.git' --exclude='./.gpu-*' -cf - . | tar -xf - -C $SOURCE
  (cd $SOURCE && setsid bash tools/g1_runs.sh "$@" > $RUNS/body.log 2>&1 < /dev/null &)
}

start() {
  detach body "$@"
  echo "started: seed $1, extra $2${3:+, overrides ${*:3}}"
}

start_ab() {
  detach side_by_side "$@"
  echo "started for $1 min: ${*:2}"
}

start_throughput() {
  detach throughput_job "$@"
  echo "throughput of: $*"
}

throughput_job() {
  throughput_rows "$@"
  touch $RUNS/done
}

throughput_rows() {  # each variant after the other, alone on the GPU (the first row pays for Warp's kernels)
  local i=0
  gpu_env
  date +%s > $RUNS/start_throughput
  for overrides in "$@"; do
    # shellcheck disable=SC2086  # each variant's overrides are words
    python benchmarks/throughput.py --task G1Command --engine mujoco_warp --modes train --num_envs 8192 \
      --epochs 15 --json $RUNS/throughput_$i.json $overrides > $RUNS/throughput_$i.log 2>&1
    i=$((i + 1))
  done
}

gpu_env() {
  [ -n "${AWD_GPU_ENV:-}" ] && source "$AWD_GPU_ENV"
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
}

side_by_side() {
  local minutes=$1 names=(a b c d) i=0 name
  gpu_env
  date +%s > $RUNS/start_ab
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    name=${names[i++]}
    # shellcheck disable=SC2086  # each variant's overrides are words
    python benchmarks/time_to_walk.py --task G1Command --engine mujoco_warp --seed 1 --minutes "$minutes" \
      --eval_threads 4 --eval_every 50 --output_path /tmp/ttw_$name $1 ${TTW_ARGS:-} > $RUNS/$name.log 2>&1 &
    shift
  done
  wait
  [ $# -gt 1 ] && throughput_rows "${@:2}"
  touch $RUNS/done
}

body() {
  local seed=$1 extras=$2 extra; shift 2
  gpu_env
  empty_caches
  main_run "$seed" "$@"
  for extra in ${extras//,/ }; do
    extra_run "$seed" "$extra" "$@"
  done
  touch $RUNS/done
}

empty_caches() {  # Warp's kernels and torch's compiled graphs, so that a run starts as on a fresh machine
  rm -rf "${WARP_CACHE_PATH:-$HOME/.cache/warp}" /tmp/torchinductor_* 2>/dev/null
}

main_run() {  # G1Command seed $1 with the overrides after it, alone, for G1_MIN minutes
  local seed=$1; shift
  date +%s > $RUNS/start_g1s$seed
  python benchmarks/time_to_walk.py --engine mujoco_warp --seed "$seed" --task G1Command --minutes "${G1_MIN:-14}" \
    --eval_threads 8 --eval_every 25 --output_path /tmp/ttw_g1s$seed "$@" ${TTW_ARGS:-} > $RUNS/g1s$seed.log 2>&1
}

extra_run() {
  local seed=$1 extra=$2; shift 2
  date +%s > $RUNS/start_$extra
  local ttw="python benchmarks/time_to_walk.py --engine mujoco_warp --seed $seed --minutes ${G1_EXTRA_MIN:-7}"
  ttw="$ttw --eval_threads 4 --eval_every 50"
  case $extra in
    next_seed) empty_caches; main_run $((seed + 1)) "$@" ;;  # the same run for the next seed
    amp)
      $ttw --task G1AMP --output_path /tmp/ttw_amp ${TTW_ARGS:-} > $RUNS/amp.log 2>&1 &
      $ttw --task G1AMP --output_path /tmp/ttw_amp_noroot env.amp.root_rotation=false \
        env.amp.root_angular_velocity=false ${TTW_ARGS:-} > $RUNS/amp_noroot.log 2>&1 &
      wait ;;
    23) $ttw --task G1Command --output_path /tmp/ttw_g23 env.robot=g1_23dof ${TTW_ARGS:-} > $RUNS/g23.log 2>&1 ;;
    beyond)  # commands drawn past the range ends, so that a policy short of a command still reaches the ends
      $ttw --task G1Command --output_path /tmp/ttw_beyond env.commands.sample_beyond=1.2 ${TTW_ARGS:-} \
        > $RUNS/beyond.log 2>&1 ;;
    axis)  # a share of commands along one axis only, as the extremes are judged
      $ttw --task G1Command --output_path /tmp/ttw_axis env.commands.single_axis_prob=0.3 ${TTW_ARGS:-} \
        > $RUNS/axis.log 2>&1 ;;
    variant)  # another G1Command run with the overrides in G1_VARIANT (a second probe in the same session)
      # shellcheck disable=SC2086  # the variant's overrides are words
      $ttw --task G1Command --output_path /tmp/ttw_variant ${G1_VARIANT:-} ${TTW_ARGS:-} > $RUNS/variant.log 2>&1 ;;
    throughput) throughput_rows "" ;;  # the train throughput of the defaults, as start_throughput
    profile)  # where an epoch of the defaults goes: torch.profiler's top ops (benchmarks/throughput.py --profile)
      python benchmarks/throughput.py --task G1Command --engine mujoco_warp --modes train --num_envs 8192 \
        --epochs 3 --profile > $RUNS/profile.log 2>&1 ;;
    arm)
      local spec=awd/data/assets/g1/robot_armature.yaml  # beside the model files it names
      cp awd/data/assets/g1/robot.yaml $spec
      python tools/robot_setup.py $spec --gains_from_armature 10 2 --write > $RUNS/arm_gains.log 2>&1
      $ttw --task G1Command --output_path /tmp/ttw_arm env.robot=$spec env.motion_file=motions/g1 \
        ${TTW_ARGS:-} > $RUNS/arm.log 2>&1
      rm -f $spec ;;
  esac
}

poll() {
  local now f d best
  gpu_env
  now=$(date +%s)
  for f in $RUNS/start_*; do [ -f "$f" ] && echo "$(basename "$f"): $(( (now - $(cat "$f")) / 60 )) min ago"; done
  [ -f $RUNS/done ] && echo DONE
  for f in $RUNS/*.log; do echo "== $f"; grep -E "^\| [0-9]|time to walk|Error|error" "$f" | tail -4 | cut -c1-300; done
  python - <<'PY' 2>/dev/null  # the latest evaluation of each run: when its falls came (awd/evaluate.py)
import glob, json
from awd.evaluate import fall_summary
for run in sorted(glob.glob("/tmp/ttw_*")):
    evals = sorted(glob.glob(f"{run}/*/eval/checkpoint_*.json"))
    if evals:
        result = json.load(open(evals[-1]))
        print(run, "epoch", result["epoch"], fall_summary(result.get("fall_commands", [])))
PY
  for d in /tmp/ttw_*; do  # what fails at each run's latest two style reports
    [ -d "$d" ] && python benchmarks/style_timeline.py "$d" 2>/dev/null | tail -2 | cut -c1-400
  done
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
  [ -n "${OUT:-}" ] || return 0
  find $RUNS /tmp/ttw_* -type f -size -2M -print0 | tar czf "$OUT/runs.tgz" --null -T - 2>/dev/null
  for d in /tmp/ttw_*; do
    best=$(find "$d" -name best_style.pth | head -1)
    [ -n "$best" ] && cp "$best" "$OUT/best_$(basename "$d").pth"
    [ -n "$(find "$d" -name time_to_walk.json)" ] || continue  # before the run ends, eval/ holds one in flight
    kept=$(find "$d" -path '*/eval/*.pth' | tail -1)  # the checkpoint that ended the run (time_to_walk keeps it)
    [ -n "$kept" ] && cp "$kept" "$OUT/stop_$(basename "$d").pth"
  done
  ls -la "$OUT"
}

"$@"
