#!/usr/bin/env bash
# The main job: install what is missing, build, run experiments/quickstart.json (Cu, RLEKF vs
# Adam, paper's model), then the report tables and the figures.
# Outputs: results/quickstart/summary.csv, .../report/report.md, .../figures/*.png|svg
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
export OMP_PROC_BIND=${OMP_PROC_BIND:-false}
build/rlekf run experiments/quickstart.json -j 2
build/rlekf report results/quickstart
make -f Makefile.bench figures EXP=quickstart BUILD=build
echo "quickstart: summary results/quickstart/summary.csv, report results/quickstart/report/report.md, figures results/quickstart/figures/"
