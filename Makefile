# upscale — build, demo, test and benchmark entry points.
SHELL := /bin/bash
SWIFT ?= swift
PACKAGES := libpng-dev libjpeg-dev libopenblas-dev libdnnl-dev zlib1g-dev pkg-config
SAMPLE ?= samples/photo-q60.jpg

.PHONY: deps build demo test fuzz example lint format bench bench-backends bench-peers bench-train-peer bench-ncnn quality-chart clean

# Idempotent: installs only what pkg-config cannot find.
deps:
	@missing=""; \
	pkg-config --exists libpng 2>/dev/null || missing="$$missing libpng-dev"; \
	pkg-config --exists libjpeg 2>/dev/null || missing="$$missing libjpeg-dev"; \
	pkg-config --exists openblas 2>/dev/null || missing="$$missing libopenblas-dev"; \
	pkg-config --exists zlib 2>/dev/null || missing="$$missing zlib1g-dev"; \
	test -f /usr/include/oneapi/dnnl/dnnl.h || missing="$$missing libdnnl-dev"; \
	command -v pkg-config >/dev/null 2>&1 || missing="pkg-config $$missing"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else \
			echo "error: need root (or sudo) to install$$missing with apt-get; install them by hand" >&2; exit 1; fi; \
		command -v apt-get >/dev/null 2>&1 || { echo "error: apt-get not found: install$$missing with your package manager" >&2; exit 1; }; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq pkg-config $(PACKAGES) >/dev/null \
			|| { echo "error: apt-get could not install$$missing" >&2; exit 1; }; \
	fi

build: deps
	$(SWIFT) build -c release --product upscale

demo: build
	@mkdir -p out
	.build/release/upscale $(SAMPLE) out/demo-x4.png --scale 4
	.build/release/upscale $(SAMPLE) out/demo-x4-bicubic.png --scale 4 --method bicubic
	@echo "wrote out/demo-x4.png (model) and out/demo-x4-bicubic.png (bicubic) from $(SAMPLE)"

# Release mode: the numeric tests (protocol, tiling, training) run many times faster than in debug.
# The last line is a plain "N passed, N failed" summary of the XCTest run.
test: deps
	$(SWIFT) build -c release
	@set -o pipefail; $(SWIFT) test -c release --disable-swift-testing 2>&1 | tee .build/test.log; status=$$?; \
	passed=$$(grep -cE "^Test Case .* passed" .build/test.log); \
	failed=$$(grep -cE "^Test Case .* failed" .build/test.log); \
	echo "tests: $$passed passed, $$failed failed"; \
	if [ "$$passed" -eq 0 ]; then exit 1; fi; exit $$status

# Thousands of deterministic mutations of PNG, JPEG and safetensors files through the decoders and the
# model loader (`make test` runs 12,000 of each).
fuzz: deps
	$(SWIFT) build -c release --build-tests
	UPSCALE_FUZZ_CASES=$${UPSCALE_FUZZ_CASES:-200000} $(SWIFT) test -c release --disable-swift-testing --skip-build --filter FuzzTests

# A separate package that depends on UpscaleKit by path and upscales a sample from code.
example: deps
	$(SWIFT) build -c release --package-path Examples/EmbedUpscaleKit
	@mkdir -p out
	Examples/EmbedUpscaleKit/.build/release/embed-upscale $(SAMPLE) out/example-x4.png
	@test -s out/example-x4.png && echo "example package: built against UpscaleKit and upscaled $(SAMPLE)"

SWIFT_FILES = $(shell find Package.swift Sources Tests Benchmarks Examples -name "*.swift" -not -path "*/.build/*" | sort)

# Style: .swift-format (120 columns, 4-space indents); `make format` rewrites, `make lint` checks.
lint:
	$(SWIFT) format lint --strict --configuration .swift-format $(SWIFT_FILES)

format:
	$(SWIFT) format format -i --configuration .swift-format $(SWIFT_FILES)

bench: deps
	$(SWIFT) build -c release --product upscale
	$(SWIFT) run -c release upscale-bench

# Our generators against ONNX Runtime on identical weights (installs its packages into .build/peers-venv),
# and `upscale model export` checked in ONNX Runtime and in ncnn against upscale's own output.
bench-peers: deps
	$(SWIFT) build -c release --product upscale
	$(SWIFT) build -c release --product upscale-bench
	python3 Benchmarks/peers/onnxruntime_peer.py
	.build/peers-venv/bin/python Benchmarks/peers/check_onnx_export.py .build/release/upscale samples/bird-lr.png \
		weights/x4-psnr.safetensors weights/x4-gan.safetensors weights/x2-psnr.safetensors \
		Tests/SRModelsTests/Fixtures/tiny_srvgg_x4.pth Tests/SRModelsTests/Fixtures/tiny_ncnn_x4.param \
		Tests/SRModelsTests/Fixtures/tiny_rrdb_x4.safetensors Tests/SRModelsTests/Fixtures/tiny_rrdb_x2.safetensors \
		Tests/SRModelsTests/Fixtures/tiny_span_x4.pth Tests/SRModelsTests/Fixtures/tiny_span_x2.safetensors
	python3 Benchmarks/peers/check_ncnn_export.py .build/release/upscale samples/bird-lr.png \
		weights/x4-gan-realistic.safetensors weights/x4-psnr.safetensors weights/x4-gan.safetensors \
		weights/x2-psnr.safetensors Tests/SRModelsTests/Fixtures/tiny_srvgg_x4.pth \
		Tests/SRModelsTests/Fixtures/tiny_ncnn_x4.param Tests/SRModelsTests/Fixtures/tiny_rrdb_x4.safetensors \
		Tests/SRModelsTests/Fixtures/tiny_span_x4.pth Tests/SRModelsTests/Fixtures/tiny_span_x2.safetensors

# Our trainer against PyTorch's (CPU build) on the shipped networks and recipes: steps per second in one run.
bench-train-peer: deps
	$(SWIFT) build -c release --product upscale
	python3 Benchmarks/peers/torch_train_peer.py

# ncnn models (Real-ESRGAN, SPAN, community) through upscale and through ncnn: agreement, speed, peak RSS.
bench-ncnn: deps
	$(SWIFT) build -c release --product upscale
	$(SWIFT) build -c release --product upscale-bench
	python3 Benchmarks/peers/ncnn_peer.py $(NCNN_PEER_ARGS)

# Set5 PSNR against seconds per output MP for our ×4 models, bicubic and (after `make bench-ncnn`) the peers.
quality-chart: deps
	$(SWIFT) build -c release --product upscale
	$(SWIFT) build -c release --product upscale-bench
	.build/release/upscale-bench --quality-chart weights/quality-vs-speed.png

# oneDNN's direct convolution against ours and raw sgemm on every shape the shipped ×4 model runs.
bench-backends: deps
	$(SWIFT) build -c release --product conv-backends
	.build/release/conv-backends

clean:
	rm -rf .build out
