#!/bin/sh
# Reproduce this study and check its numbers against expected.json:
#   sh run.sh             the full study (study.ini; its cost is in README.md)
#   sh run.sh --reduced   the reduced study CI runs (study-reduced.ini, expected-reduced.json)
#   sh run.sh --shipped   the full study's evaluations of the shipped weights it trains (about 1.5 min)
#   sh run.sh --paper     the paper's full schedule (study-paper.ini: 200 epochs, PGD eps 0.2; about 3 days here)
#   sh run.sh --dry-run   the plan, with estimated time, disk and memory per step
here=$(cd "$(dirname "$0")" && pwd)
exec sh "$here/../run-study.sh" "$here" "$@"
