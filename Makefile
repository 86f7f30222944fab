# calsync: two commands do all the set-up.
#   make run    the worker on the built-in sandbox, with demo data, on local Redis and PostgreSQL
#   make test   installs what is missing, checks each target's imports (scripts/check-imports.sh), starts Redis
#               and PostgreSQL, runs the whole test suite, stops them
#   make bench  release build, then throughput, latency, import, memory and scheduler figures (bench/results.md)
#   make chaos  10,000 random jobs for 200 members under faults, worker kills and Redis/PostgreSQL restarts
#               (CALSYNC_CHAOS_SEED=N repeats a run, =random draws one; about 5 minutes)
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: all build test run deps bench chaos clean

all: build

deps:
	@scripts/services.sh deps

build: deps
	$(SWIFT) build

test: deps
	scripts/check-imports.sh
	$(SWIFT) build --build-tests
	SWIFT=$(SWIFT) scripts/with-services.sh scripts/run-tests.sh

bench: deps
	SWIFT=$(SWIFT) scripts/bench.sh $(BENCH_ARGS)

chaos: deps
	$(SWIFT) build --build-tests
	CALSYNC_CHAOS_JOBS=$${CALSYNC_CHAOS_JOBS:-10000} CALSYNC_CHAOS_MEMBERS=$${CALSYNC_CHAOS_MEMBERS:-200} \
		SWIFT=$(SWIFT) scripts/with-services.sh $(SWIFT) test --skip-build --filter ChaosTests

run: deps
	$(SWIFT) build
	scripts/run-demo.sh

clean:
	rm -rf .build
