# Every target installs what it needs: a pinned Bun (from the npm registry, into .tools/)
# when none is on PATH, then the project's packages.
BUN_VERSION := 1.4.5
TOOLS       := .tools
BUN         := $(or $(shell command -v bun 2>/dev/null),$(CURDIR)/$(TOOLS)/node_modules/.bin/bun)
NAME        := cm-open-webui-proxy
ENTRY       := src/cli.ts
# Worker threads' code: a compiled binary holds only the entry points it is given (see src/workers.ts).
WORKERS     := src/observe/usage/sqlite-query-worker.ts
BUILD_FLAGS := --compile --minify --sourcemap --bytecode --format=esm
# The -musl targets run on Alpine (musl libc); -baseline on x64 CPUs without AVX2.
TARGETS     := linux-x64 linux-x64-baseline linux-x64-musl linux-arm64 linux-arm64-musl darwin-x64 darwin-arm64 windows-x64

.PHONY: run test test-deps build release bench soak cluster typecheck format format-check deps bun clean prices

run: deps
	$(BUN) run $(ENTRY)

# Types first (3 s): a test suite that no longer type-checks fails CI as surely as a failing test.
# The per-test timeout is given here because Bun ignores a `[test] timeout` in bunfig.toml
# (oven-sh/bun#7789): it is the outer bound; every wait inside a test has its own, shorter one
# that names what it waited for.
test: typecheck format-check test-deps
	$(BUN) test --timeout 30000

# The real servers and tools the suite starts itself (Debian package names): Chromium drives the
# status page, promtool (prometheus) checks /metrics, redis-server backs the shared-state suites,
# PostgreSQL the usage-store suites, python3 two hardening tests. Each missing one is installed
# with apt-get (`update` once, only when something is missing) and looked for again; without
# apt-get, one line per missing package and exit 1: the tests never skip silently.
test-deps:
	@bash scripts/test-deps.sh

typecheck: deps
	$(BUN) x tsc --noEmit

# Biome formats the TypeScript and JSON (biome.json); `make test` fails on a file it would change.
format: deps
	$(BUN) x biome format --write .

format-check: deps
	$(BUN) x biome format .

build: deps
	$(BUN) build $(ENTRY) $(WORKERS) $(BUILD_FLAGS) --outfile dist/$(NAME)

release: deps
	rm -rf dist/release && mkdir -p dist/release
	for target in $(TARGETS); do \
	  $(BUN) build $(ENTRY) $(WORKERS) $(BUILD_FLAGS) --target=bun-$$target --outfile dist/release/$(NAME)-$$target || exit 1; \
	done
	rm -f dist/release/*.map  # the source map is embedded in each binary
	cd dist/release && sha256sum $(NAME)-* > SHA256SUMS && cat SHA256SUMS

# Benchmark (issue 3): never part of test/CI. Installs wrk from Debian when missing; takes about 15 minutes.
bench: build
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "wrk not found: installing it from Debian (apt-get install wrk)"; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq wrk; }
	BENCH_BUILD_FLAGS="$(BUILD_FLAGS)" $(BUN) run bench/run.ts

# Soak (issue 4): never part of test/CI. >= 200,000 mixed requests against the compiled binary;
# checks RSS and file descriptors, writes soak/RESULTS.md; takes a few minutes.
soak: build
	$(BUN) run soak/run.ts

# Redis, three instances of the compiled binary sharing it (state.redis) and HAProxy round-robin in
# front, on this machine (Debian's redis-server and haproxy, installed when missing); Ctrl-C stops
# them all. CLUSTER_CONFIG, CLUSTER_PORT, CLUSTER_HOST, CLUSTER_INSTANCES: see deploy/cluster.sh.
cluster: build
	BUN="$(BUN)" bash deploy/cluster.sh

# Refreshes the price table built into the binary (src/pricing/built-in-prices.json) from the newest
# @pydantic/genai-prices on the npm registry; PRICES_VERSION=x.y.z pins one. Commit the result.
prices: deps
	$(BUN) run scripts/prices.ts $(PRICES_VERSION)

deps: bun node_modules/.installed

node_modules/.installed: package.json bun.lock | bun
	$(BUN) install --frozen-lockfile
	touch $@

bun:
	@if [ ! -x "$(BUN)" ]; then \
	  echo "Bun not found: installing bun@$(BUN_VERSION) from the npm registry into $(TOOLS)/"; \
	  npm install --no-save --no-audit --no-fund --prefix $(TOOLS) bun@$(BUN_VERSION) >/dev/null; \
	fi

clean:
	rm -rf dist node_modules $(TOOLS)
