#!/usr/bin/env bash
# Compiles twinfer's TensorRT sources (native/src/trt/*.cc) against TensorRT's public headers, to
# object files in a temporary folder, without linking: the check that the TensorRT path builds
# against each TensorRT version, on machines that have only the headers (no libnvinfer).
#
#   scripts/trt-compile-check.sh HEADERS_DIR...      each DIR holds NvInfer.h (or has include/NvInfer.h)
#   TENSORRT_ROOT=/opt/tensorrt scripts/trt-compile-check.sh
#
# Needs g++ (C++17, or CXX=...), the CUDA headers (cuda_runtime_api.h: CUDA_HOME, CUDA_PATH or
# /usr/local/cuda), and node-addon-api / node-api-headers from node_modules. Prints one line per
# header folder and file; exits 1 when any compile fails (the compiler's messages are shown).
set -u
here="$(cd "$(dirname "$0")/.." && pwd)"
cxx="${CXX:-g++}"
dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
  if [ -n "${TENSORRT_ROOT:-}" ]; then dirs=("$TENSORRT_ROOT"); else
    echo "usage: $0 HEADERS_DIR... (or set TENSORRT_ROOT)" >&2; exit 2
  fi
fi
cuda=""
for c in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
  if [ -n "$c" ] && [ -f "$c/include/cuda_runtime_api.h" ]; then cuda="$c/include"; break; fi
done
if [ -z "$cuda" ]; then echo "trt-compile-check: cuda_runtime_api.h not found (set CUDA_HOME)" >&2; exit 2; fi
napi="$here/node_modules/node-addon-api"
napih="$here/node_modules/node-api-headers/include"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
status=0
for d in "${dirs[@]}"; do
  inc="$d"
  [ -f "$inc/NvInfer.h" ] || inc="$d/include"
  if [ ! -f "$inc/NvInfer.h" ]; then echo "trt-compile-check: no NvInfer.h in $d" >&2; status=1; continue; fi
  ver="$(sed -n 's/^#define TRT_\(MAJOR\|MINOR\|PATCH\)_ENTERPRISE \([0-9]*\).*/\2/p' "$inc/NvInferVersion.h" | paste -sd.)"
  for src in "$here"/native/src/trt/*.cc; do
    name="$(basename "$src")"
    # The TensorRT headers go in with -isystem: their own deprecation warnings are not ours.
    if "$cxx" -std=c++17 -c -o "$tmp/${name%.cc}.o" -Wall -Wextra -Werror \
        -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED \
        -isystem "$inc" -isystem "$cuda" -isystem "$napi" -isystem "$napih" "$src" 2>"$tmp/err"; then
      echo "ok      TensorRT ${ver:-?} ($inc) $name"
    else
      echo "FAILED  TensorRT ${ver:-?} ($inc) $name"; cat "$tmp/err"; status=1
    fi
  done
done
exit $status
