# shelfwatch — the two README commands and their building blocks.
#   make demo   install dependencies, build Release, train the models when ./models is missing,
#               serve the Home Depot catalog on :8080
#   make test   install dependencies, build, run every test with ctest
SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),/work/shared/data)
PORT ?= 8080

.PHONY: all deps configure build test demo models bench asan tsan clean

all: build

deps:
	./scripts/install-deps.sh

configure:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: deps
	$(MAKE) build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 600

demo: deps
	$(MAKE) build
	@if [ ! -d models/homedepot-ranker ]; then $(MAKE) models; fi
	./scripts/demo.sh $(BUILD_DIR)/shelfwatch $(DATA_DIR) $(PORT)

# The search pipeline's models, trained on the Home Depot TRAIN split (a few minutes).
models: build
	./scripts/train-models.sh $(BUILD_DIR)/shelfwatch $(DATA_DIR) models

bench:
	./scripts/install-deps.sh --bench
	$(MAKE) build
	./bench/run.sh $(BUILD_DIR) $(DATA_DIR)

# Sanitizer builds: separate build folders, same tests.
asan: deps
	$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo CMAKE_ARGS="-DSHELFWATCH_SANITIZE=address,undefined"

tsan: deps
	$(MAKE) test BUILD_DIR=build-tsan BUILD_TYPE=RelWithDebInfo CMAKE_ARGS="-DSHELFWATCH_SANITIZE=thread"

clean:
	rm -rf build build-asan build-tsan
