# Conduit: common tasks. `make help` lists them.
.PHONY: help setup build test example bench chaos clean

help:
	@echo "make setup    install libzmq3-dev (and numpy for the examples)"
	@echo "make build    debug build of the conduit CLI"
	@echo "make test     build and run every test (unit, ZeroMQ, multi-process integration)"
	@echo "make example  run examples/house-prices with the embedded coordinator and worker"
	@echo "make bench    release build, then the dispatch/throughput/cache benchmarks"
	@echo "make chaos    release build, then kill/stop/partition/disk-full faults against real processes"
	@echo "              (CHAOS_RUNS=N repetitions, default 3; CHAOS_SEED=S; see docs/reliability.md)"

setup:
	@dpkg -s libzmq3-dev >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libzmq3-dev)
	@python3 -c "import numpy" 2>/dev/null || pip install --quiet numpy

build: setup
	swift build

test: setup
	swift build --build-tests && swift test --skip-build

example: build
	.build/debug/conduit run examples/house-prices/pipeline.yml --output-dir conduit-outputs

bench: setup
	swift build -c release
	bash benchmarks/run.sh

chaos: setup
	swift build -c release
	python3 benchmarks/chaos.py

clean:
	rm -rf .build conduit-outputs
