#!/bin/sh
# The suite N times in a row (random order, 2 workers) beside two busy processes: the
# loaded-machine proof of docs/quality.md.   usage: scripts/loaded_suite.sh [N]   (default 5)
set -u
n=${1:-5}
python3 -c "while True: pass" & hog1=$!
python3 -c "while True: pass" & hog2=$!
trap 'kill $hog1 $hog2 2>/dev/null' EXIT INT TERM
failed=0
i=1
while [ "$i" -le "$n" ]; do
  start=$(date +%s)
  if .venv/bin/python -m pytest -n 2 -p randomly -q tests > "loaded-run$i.log" 2>&1; then rc=0; else rc=$?; failed=1; fi
  echo "run $i: exit $rc in $(( $(date +%s) - start )) s: $(tail -n 1 "loaded-run$i.log")"
  i=$((i + 1))
done
exit $failed
