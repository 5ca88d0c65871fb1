# Pink — the two commands that matter: `make run` and `make test`.
GO        ?= go
PKGS      ?= ./...
DATA_DIR  ?= ./pink-data

.PHONY: run test test-short test-cluster test-cluster-short test-cluster-broken bench bench-load lint fmt vet fuzz build clean

## run: start one pink-node with an embedded etcd and the console on 127.0.0.1:8002 (dev mode)
run:
	$(GO) run ./cmd/pink-node --data-dir $(DATA_DIR) --dev

## test: every unit, contract and integration test, with the race detector
test:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## test-short: the quick subset (skips multi-member etcd clusters)
test-short:
	$(GO) test -short -count=1 $(PKGS)

## test-cluster: fault-injection tests with real processes (3 etcd members, 3 nodes, workers)
test-cluster:
	PINK_CLUSTER_LOGS=1 $(GO) test -v -count=1 -timeout 60m ./test/cluster/ -args -full

## test-cluster-short: every cluster fault scenario once (what CI runs)
test-cluster-short:
	PINK_CLUSTER=1 PINK_CLUSTER_LOGS=1 $(GO) test -v -count=1 -timeout 20m ./test/cluster/

## test-cluster-broken: build Pink with fencing disabled and check that scenario 2 catches it
test-cluster-broken:
	@out=$$(PINK_BUILD_TAGS=pink_nofence PINK_CLUSTER=1 $(GO) test -v -count=1 -timeout 10m -run 'TestFaults/^2-' ./test/cluster/ 2>&1); \
	if echo "$$out" | grep -q 'fence: job .* was paused at'; then \
		echo "$$out" | grep 'fence: job' | head -3; \
		echo "ok: with fencing disabled, scenario 2 fails on the stale write"; \
	else \
		echo "$$out" | tail -40; \
		echo "FAIL: with fencing disabled, scenario 2 did not catch a stale write"; exit 1; \
	fi

## bench: the go test benchmarks of the hot paths
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./domain ./app/scheduler ./adapters/etcd

## bench-load: the load harness (embedded etcd with fsync, a scheduler, workers); prints one table
bench-load:
	$(GO) run ./cmd/pink-bench -mode all

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## fuzz: run each fuzz target briefly. FUZZTIME is a count of inputs
## ("100000x"): a time limit can end the run during input minimisation,
## which go test reports as "context deadline exceeded", a false failure.
FUZZTIME ?= 150000x
fuzz:
	$(GO) test ./domain -run '^$$' -fuzz '^FuzzParseSchedule$$' -fuzztime $(FUZZTIME) -parallel 1

## build: build every binary into ./bin
build:
	mkdir -p bin && $(GO) build -o bin/ ./cmd/...

clean:
	rm -rf bin $(DATA_DIR)
