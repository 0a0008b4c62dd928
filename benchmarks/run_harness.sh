#!/bin/bash
# The README's performance table: scrapepool, Scrapy+BS4 and Scrapy native through the shared
# harness (../shared/bench), one after the other (never two at once on 2 cores), ~40 minutes.
#   BENCH_WORK=DIR PY=~/.bench-venv/bin/python S3_HARNESS=../shared/bench bash benchmarks/run_harness.sh
# S3_HARNESS: a copy of the harness for S3 when the machine limits open files (see README).
set -u
cd "$(dirname "$0")/.."
PY=${PY:-python}
BENCH=${BENCH:-../shared/bench}
S3_HARNESS=${S3_HARNESS:-$BENCH}
SP="python -m scrapepool crawl SEEDS -o OUT.jsonl --no-robots -w 2 -c 16"
log() { echo "=== $(date +%H:%M:%S) $*"; }
for S in S1 S2; do
  log "$S scrapepool"; $PY "$BENCH/run.py" --scenario $S --name scrapepool --reps 3 --cwd "$PWD" -- $SP
  for C in scrapy-bs4 scrapy-css; do
    log "$S $C"; $PY "$BENCH/run.py" --scenario $S --crawler $C --reps 3
  done
done
log "S3 scrapepool"
$PY "$S3_HARNESS/run.py" --scenario S3 --name scrapepool --reps 1 --window 10 --timeout 1500 --cwd "$PWD" -- $SP
for C in scrapy-css scrapy-bs4; do
  log "S3 $C"; $PY "$S3_HARNESS/run.py" --scenario S3 --crawler $C --reps 1 --window 10 --timeout 1500
done
log done
