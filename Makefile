# calsync: two commands do all the set-up.
#   make run    the worker on the built-in sandbox, with demo data, on local Redis and PostgreSQL
#   make test   installs what is missing, starts Redis and PostgreSQL, runs the whole test suite, stops them
#   make bench  release build, then throughput, latency, import, memory and scheduler figures (bench/results.md)
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: all build test run deps bench clean

all: build

deps:
	@scripts/services.sh deps

build: deps
	$(SWIFT) build

test: deps
	$(SWIFT) build --build-tests
	SWIFT=$(SWIFT) scripts/with-services.sh scripts/run-tests.sh

bench: deps
	SWIFT=$(SWIFT) scripts/bench.sh $(BENCH_ARGS)

run: deps
	$(SWIFT) build
	scripts/run-demo.sh

clean:
	rm -rf .build
