# citygrid: run `make` (or `make help`) for the list of targets.

GO       ?= go
FUZZTIME ?= 10s
BENCH    ?= .
BENCHPKG ?= ./registry ./spatial ./store/bolt ./api ./api/internal/batch ./geojson ./internal/jsonscan ./fixtures
BENCHTIME ?= 1s
BENCHCMP ?=
ADDR     ?= :8080

.DEFAULT_GOAL := help
.PHONY: help build run test bench bench-go bench-pg bench-megacity fuzz lint

help: ## list the targets (this text)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-15s %s\n", $$1, $$2}'

build: ## build bin/citygrid
	$(GO) build -o bin/citygrid ./cmd/citygrid

run: build ## serve the demo city on ADDR (:8080) from demo/citygrid.db, generated on first run
	mkdir -p demo
	./bin/citygrid serve -demo -db demo/citygrid.db -addr $(ADDR)

test: ## go vet, then every test with the race detector (PostgreSQL+PostGIS via scripts/pg-ensure.sh, GDAL via scripts/gdal-ensure.sh; required under CI=true)
	$(GO) vet ./...
	@set -e; \
	scripts/gdal-ensure.sh || { [ "$$CI" != true ] || exit 1; echo "ogr2ogr unavailable: the Shapefile and GeoPackage tests will skip" >&2; }; \
	env=$$(scripts/pg-ensure.sh) || { [ "$$CI" != true ] || exit 1; echo "PostgreSQL unavailable: its tests will skip" >&2; }; \
	eval "$$env"; \
	trap 'sh "$${CITYGRID_PG_STOP_FILE:-/nonexistent}" 2>/dev/null || true' EXIT; \
	$(GO) test -race -count=1 ./...

bench: bench-go ## Go benchmarks, then the end-to-end figures on the embedded store (no PostGIS)
	$(GO) run ./internal/benchcmp -skip-pg $(BENCHCMP)

bench-go: ## Go benchmarks only, with -benchmem; narrow with BENCH=regexp BENCHPKG=./api BENCHTIME=1s
	$(GO) test -run='^$$' -bench='$(BENCH)' -benchmem -benchtime=$(BENCHTIME) $(BENCHPKG)

# bench-megacity is issue 9 §5's scale (not in test or CI): needs tens of GB of disk and memory, and long.
bench-megacity: ## the end-to-end figures at 500,000 cells and 10,000,000 components, embedded store, one run (into .cache/bench-megacity)
	$(GO) run ./internal/benchcmp -skip-pg -runs 1 -cells 500000 -components 10000000 -points 20000 -queries 500 -duration 6s -many 0 -dir .cache/bench-megacity $(BENCHCMP)

# bench-pg stops a throw-away PostgreSQL cluster at the end only when pg-ensure.sh started it for this run.
bench-pg: ## citygrid vs PostGIS side by side on one data set (PostgreSQL+PostGIS via scripts/pg-ensure.sh; BENCHCMP=flags)
	@set -e; \
	stop=$${CITYGRID_PG_STOP_FILE:-$${TMPDIR:-/tmp}/citygrid-pg-stop.sh}; \
	if [ -e "$$stop" ]; then fresh=false; else fresh=true; fi; \
	env=$$(scripts/pg-ensure.sh); \
	eval "$$env"; \
	if $$fresh && [ -e "$$stop" ]; then trap 'sh "$$stop" 2>/dev/null || true' EXIT; fi; \
	$(GO) run ./internal/benchcmp $(BENCHCMP)

fuzz: ## every fuzz target of every package, FUZZTIME (10s) each
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

lint: ## gofmt, go mod tidy -diff, go vet and staticcheck
	@test -z "$$(gofmt -l .)" || { echo "gofmt -l:"; gofmt -l .; exit 1; }
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
