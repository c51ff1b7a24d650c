#!/bin/sh
# Packs what a bare GPU machine needs to run islet's accelerator tests and bench (no Node, no
# registry there): Node 24 and node_modules (less what the check does not use), compressed to fit
# a 64 MiB transfer, and the Vulkan loader and libglvnd from Debian, which NVIDIA's Vulkan driver
# needs and onnxruntime's WebGPU provider (Dawn) loads. Writes .dev/ (git-ignored). Run after npm ci.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p .dev/gl
xz -9 -T2 -c node_modules/node/bin/node > .dev/node.xz
tar cf - --exclude=node_modules/node --exclude=node_modules/.bin/node --exclude=node_modules/@cloudflare \
  --exclude=node_modules/workerd --exclude=node_modules/typescript --exclude=node_modules/@types \
  --exclude='node_modules/lightningcss-*' --exclude=node_modules/isolated-vm/src --exclude='node_modules/isolated-vm/*.tgz' \
  --exclude=node_modules/isolated-vm/prebuilds/darwin-arm64 --exclude=node_modules/isolated-vm/prebuilds/win32-x64 \
  --exclude=node_modules/isolated-vm/prebuilds/linux-arm64 --exclude=node_modules/onnxruntime-node/bin/napi-v6/darwin \
  --exclude=node_modules/onnxruntime-node/bin/napi-v6/win32 --exclude=node_modules/onnxruntime-node/bin/napi-v6/linux/arm64 \
  node_modules | xz -9 -T2 > .dev/nm.tar.xz
(cd .dev/gl && apt-get download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2)
ls -la .dev .dev/gl
