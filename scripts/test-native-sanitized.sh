#!/usr/bin/env bash
# The native plane's tests against its ASAN + UBSAN build (scripts/build-native.mjs --sanitize).
# node itself is not instrumented, so libasan must be loaded first (LD_PRELOAD); leak checking is off because
# V8 and Node keep allocations until exit that LeakSanitizer would report. Any ASAN or UBSAN report aborts the
# process (halt_on_error / -fno-sanitize-recover), which fails the test file and this script.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/build-native.mjs --sanitize
libasan="$(gcc -print-file-name=libasan.so)"
libubsan="$(gcc -print-file-name=libubsan.so)"
[ -e "$libasan" ] || { echo "sanitized native tests: libasan not found ($libasan)"; exit 1; }
export LD_PRELOAD="$libasan:$libubsan"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export SNI_ROUTER_NATIVE_ADDON="$PWD/build/sanitize/sni_router_native.node"
export SNI_ROUTER_REQUIRE_NATIVE=1
export SNIR_FUZZ_RUNS="${SNIR_FUZZ_RUNS:-150}"
exec npx vitest run test/integration/native "$@"
