# Layer builds for `sam build` (sam-template.yaml, BuildMethod: makefile): SAM runs
# `make build-<LogicalId>` here with ARTIFACTS_DIR set; the layer zip holds
# extensions/autopilot-extension. The binaries are built by extension/build-layer.sh
# (static musl, cargo-lambda + zig).

build-ExtensionLayerArm64:
	bash extension/build-layer.sh arm64
	mkdir -p "$(ARTIFACTS_DIR)/extensions"
	cp target/layer/stage-arm64/extensions/autopilot-extension "$(ARTIFACTS_DIR)/extensions/"

build-ExtensionLayerX86:
	bash extension/build-layer.sh x86_64
	mkdir -p "$(ARTIFACTS_DIR)/extensions"
	cp target/layer/stage-x86_64/extensions/autopilot-extension "$(ARTIFACTS_DIR)/extensions/"

.PHONY: build-ExtensionLayerArm64 build-ExtensionLayerX86
