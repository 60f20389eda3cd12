# The two commands (see README): `make run` and `make check`. CMake does the
# real build; this file installs dependencies and wires the steps together.
BUILD      ?= build
CHECK_BUILD ?= build-check
JOBS       ?= 2

.PHONY: all deps deps-build build check-build run check clean format

all: build

deps-build:
	@sh scripts/install-deps.sh build

deps:
	@sh scripts/install-deps.sh test

build: deps-build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# The test build: clang with AddressSanitizer + UBSan, and the fuzz targets.
check-build: deps
	CC=clang cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=Debug \
		-DPOSTERN_SANITIZE=ON -DPOSTERN_FUZZ=ON >/dev/null
	cmake --build $(CHECK_BUILD) -j$(JOBS)

run: build
	@sh scripts/create-users.sh
	@sh scripts/run-instance.sh $(BUILD)

# Builds with gcc too (warnings are errors in both), then runs every test.
check: build check-build
	@sh scripts/create-users.sh
	cd $(CHECK_BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(CHECK_BUILD)
