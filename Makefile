# Make targets are reckon's interface for developers and CI.
GO      ?= go
PKGS    ?= ./...
BENCH   ?= .
COUNT   ?= 5

.PHONY: all build test test-short bench lint fmt dev tools-check refresh-avro-goldens

all: lint test

build:
	$(GO) build -o bin/reckon ./cmd/reckon

# The test command CI runs (README: "make test").
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 15m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Benchmarks: COUNT runs each so that BENCHMARKS.md can quote medians.
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count=$(COUNT) $(PKGS)

lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)
	$(GO) mod tidy -diff

# The whole flow on this machine: broker, registry, SQLite projections,
# traffic and the live payments graph (README: "Running live").
dev:
	$(GO) run ./cmd/reckon dev

fmt:
	gofmt -w $$(git ls-files '*.go')

# Regenerates the Avro resolution goldens from Apache Avro's Python library
# (Debian's python3-avro 1.11, run by Debian's own python3). Review the diff.
AVRO_GOLDENS = schemas/testdata/avro-goldens
refresh-avro-goldens:
	/usr/bin/python3 $(AVRO_GOLDENS)/generate.py > $(AVRO_GOLDENS)/resolution.jsonl.tmp
	mv $(AVRO_GOLDENS)/resolution.jsonl.tmp $(AVRO_GOLDENS)/resolution.jsonl
