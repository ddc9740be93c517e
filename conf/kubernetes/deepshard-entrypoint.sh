#!/usr/bin/env bash
# Entrypoint of Deepshard's Spark image (conf/kubernetes/Dockerfile): every pod, driver or executor, chooses
# OpenBLAS's kernel from the CPU flags of the node it landed on, then hands over to Spark's entrypoint with the same
# arguments. Nodes of one cluster can differ (AVX-512 or not), so this cannot be decided when the image is built.
# ND4J's bundled OpenBLAS misdetects new CPUs and falls back to SSE kernels, 2-4x slower; SkylakeX without AVX-512
# dies with SIGILL. A value already set (spark.executorEnv.OPENBLAS_CORETYPE, spark.kubernetes.driverEnv...) is kept.
set -euo pipefail
cpuinfo="${DEEPSHARD_CPUINFO:-/proc/cpuinfo}"
if [[ -z "${OPENBLAS_CORETYPE:-}" && -r "$cpuinfo" ]]; then
  flags=" $(grep -m1 '^flags' "$cpuinfo" | cut -d: -f2-) "
  if [[ "$flags" == *" avx512f "* ]]; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif [[ "$flags" == *" avx2 "* && "$flags" == *" fma "* ]]; then
    export OPENBLAS_CORETYPE=Haswell
  fi
fi
exec "${DEEPSHARD_SPARK_ENTRYPOINT:-/opt/entrypoint.sh}" "$@"
