#!/usr/bin/env bash
# Installs the two MLflow clients the tracking tests run real steps with, one virtual environment
# per major version, under .build/ (kept between runs; reinstalled only when broken):
#   .build/mlflow2-venv  mlflow 2.x with scikit-learn
#   .build/mlflow3-venv  mlflow 3.x (the newest) with scikit-learn; prometheus_client, whose parser
#                        the /metrics tests read the scrape with; and optuna, which the bayesian sweep
#                        tests run the coordinator's optimiser with
# The tests find them there, or at $CONDUIT_MLFLOW2_PYTHON and $CONDUIT_MLFLOW3_PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."

install() {
    local venv=$1 requirement=$2 major=$3
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import mlflow, sklearn, sys; sys.exit(0 if mlflow.__version__.startswith('$major.') else 1)" 2>/dev/null; then
        return 0
    fi
    echo "installing $requirement into $venv (a few minutes, once)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement" scikit-learn
}

install .build/mlflow2-venv "mlflow>=2,<3" 2 &
first=$!
install .build/mlflow3-venv "mlflow>=3,<4" 3
if ! .build/mlflow3-venv/bin/python -c "import prometheus_client, optuna" 2>/dev/null; then
    .build/mlflow3-venv/bin/pip install --quiet --disable-pip-version-check prometheus_client optuna
fi
wait "$first"
