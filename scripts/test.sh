#!/usr/bin/env bash
# Runs every test, built beforehand with `swift build --build-tests`, in four groups one after the
# other. Tests that measure time (ZeroMQ round trips, leases of real worker processes, a worker lost
# after 5 s of silence) must not share two cores with tests that start dozens of Python processes
# (environments, MLflow, Optuna) or with the simulation; within a group, tests run in parallel.
#   1. unit tests of the pure cores, ZeroMQ, the store, the worker in-process
#   2. integration tests: real coordinator and worker processes on loopback
#   3. the Python-heavy suites: environments built with pip, MLflow clients, sweeps with Optuna
#   4. 10,000 seeded schedules of the coordinator and the workers' core under faults
set -euo pipefail
cd "$(dirname "$0")/.."

heavy="SweepTests|SweepOptimizerTests|WorkerEnvironmentLayerTests|EnvironmentBuildTests|MLflowTrackingTests|MLflowMirrorTests"
swift test --skip-build --skip "SimulationTests|IntegrationTests|$heavy"
swift test --skip-build --filter IntegrationTests --skip "$heavy"
swift test --skip-build --filter "$heavy"
swift test --skip-build --filter SimulationTests
