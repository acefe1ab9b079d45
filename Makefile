# Conduit: common tasks. `make help` lists them.
.PHONY: help setup build test example bench bench-studio bench-placement bench-transfer fuzz chaos clean

help:
	@echo "make setup    install libzmq3-dev, numpy for the examples, and MLflow 2.x and 3.x venvs for the tests"
	@echo "make build    debug build of the conduit CLI"
	@echo "make test     build and run every test (unit, ZeroMQ, multi-process integration)"
	@echo "make example  run examples/house-prices with the embedded coordinator and worker"
	@echo "make bench    release build, then the dispatch/throughput/cache, hostile-YAML, transfer (256 MiB) and placement benchmarks"
	@echo "make bench-studio  release build, then the studio opening a 10,000-step run in headless Chromium"
	@echo "make bench-placement  the scheduler core placing 100,000 steps on 1,000 simulated workers"
	@echo "make bench-transfer  release build, then a 1 GiB artifact worker → coordinator → worker vs raw TCP"
	@echo "make fuzz     libFuzzer on the protocol decoder and the pipeline loader, FUZZ_SECONDS (60) each"
	@echo "make chaos    release build, then kill/stop/partition/disk-full faults against real processes"
	@echo "              (CHAOS_RUNS=N repetitions, default 3; CHAOS_SEED=S; see docs/reliability.md)"

setup:
	@dpkg -s libzmq3-dev graphviz libjs-chart.js chromium chromium-driver >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libzmq3-dev graphviz libjs-chart.js chromium chromium-driver)
	@python3 -c "import numpy" 2>/dev/null || pip install --quiet numpy
	@bash scripts/mlflow-venvs.sh

build: setup
	swift build

test: setup
	swift build --build-tests && bash scripts/test.sh

example: build
	.build/debug/conduit run examples/house-prices/pipeline.yml

bench-placement:
	swift build -c release --product placement-bench
	.build/release/placement-bench

bench: setup
	swift build -c release
	bash benchmarks/run.sh
	BENCH_TRANSFER_MIB=$${BENCH_TRANSFER_MIB:-256} bash benchmarks/transfer.sh
	.build/release/placement-bench
	python3 benchmarks/studio.py

bench-studio: setup
	swift build -c release --product conduit
	python3 benchmarks/studio.py

bench-transfer: setup
	swift build -c release
	bash benchmarks/transfer.sh

# The fuzzers exist only with CONDUIT_FUZZ=1 and build in their own scratch path, so their sanitizer flags
# never invalidate the ordinary debug build. New inputs go to .build/fuzz/corpus; the seeds in
# Tests/Fuzz/Corpus are read, not written; a crash is saved as .build/fuzz/crash-* (see docs/fuzzing.md).
FUZZ_SECONDS ?= 60
FUZZ_BUILD = CONDUIT_FUZZ=1 swift build --scratch-path .build/fuzz --sanitize=fuzzer --sanitize=address
fuzz: setup
	$(FUZZ_BUILD) --product fuzz-protocol
	$(FUZZ_BUILD) --product fuzz-pipeline
	mkdir -p .build/fuzz/corpus/protocol .build/fuzz/corpus/pipeline
	.build/fuzz/debug/fuzz-protocol -max_total_time=$(FUZZ_SECONDS) -timeout=5 -rss_limit_mb=2048 \
		-artifact_prefix=.build/fuzz/ .build/fuzz/corpus/protocol Tests/Fuzz/Corpus/protocol
	.build/fuzz/debug/fuzz-pipeline -max_total_time=$(FUZZ_SECONDS) -timeout=5 -rss_limit_mb=2048 -max_len=65536 \
		-artifact_prefix=.build/fuzz/ .build/fuzz/corpus/pipeline Tests/Fuzz/Corpus/pipeline

chaos: setup
	swift build -c release
	python3 benchmarks/chaos.py

clean:
	rm -rf .build conduit-outputs
