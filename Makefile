# citygrid: run `make` (or `make help`) for the list of targets.

GO       ?= go
FUZZTIME ?= 10s
BENCH    ?= .
BENCHPKG ?= ./...
ADDR     ?= :8080

.DEFAULT_GOAL := help
.PHONY: help build run test bench fuzz lint

help: ## list the targets (this text)
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-6s %s\n", $$1, $$2}'

build: ## build bin/citygrid
	$(GO) build -o bin/citygrid ./cmd/citygrid

run: build ## serve the demo city on ADDR (:8080) from demo/citygrid.db, generated on first run
	mkdir -p demo
	./bin/citygrid serve -demo -db demo/citygrid.db -addr $(ADDR)

test: ## go vet, then every test with the race detector (PostgreSQL+PostGIS via scripts/pg-ensure.sh; required under CI=true)
	$(GO) vet ./...
	@set -e; \
	env=$$(scripts/pg-ensure.sh) || { [ "$$CI" != true ] || exit 1; echo "PostgreSQL unavailable: its tests will skip" >&2; }; \
	eval "$$env"; \
	trap 'sh "$${CITYGRID_PG_STOP_FILE:-/nonexistent}" 2>/dev/null || true' EXIT; \
	$(GO) test -race -count=1 ./...

bench: ## benchmarks with -benchmem; narrow with BENCH=regexp BENCHPKG=./api
	$(GO) test -run='^$$' -bench='$(BENCH)' -benchmem $(BENCHPKG)

fuzz: ## every fuzz target of every package, FUZZTIME (10s) each
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l .)" || { echo "gofmt -l:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
