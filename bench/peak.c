/* Measured single-core FP32 peak of this CPU (issue 7: GEMM efficiency is reported against a peak measured here, not
 * looked up). Independent chains of fused multiply-adds on the widest vectors the compiler targets (-march=native:
 * AVX-512 where the CPU has it, else AVX2), enough chains to hide the FMA latency on two FMA ports. Prints one JSON
 * object: {"row": "peak", "gflops": ..., "vectorBits": ..., "chains": ...}.
 *
 *   gcc -O2 -march=native -o peak bench/peak.c && ./peak [seconds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__AVX512F__)
#define BYTES 64
#elif defined(__AVX__)
#define BYTES 32
#else
#define BYTES 16
#endif
#define LANES (BYTES / 4)
#define CHAINS 12
typedef float vec __attribute__((vector_size(BYTES)));

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* 1,000 rounds of CHAINS independent FMAs; volatile inputs keep the compiler from folding anything */
static __attribute__((noinline)) void run(vec *acc, vec m, vec c, long rounds) {
    vec a[CHAINS];
    for (int i = 0; i < CHAINS; i++) a[i] = acc[i];
    for (long r = 0; r < rounds; r++) {
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++) a[i] = a[i] * m + c;
    }
    for (int i = 0; i < CHAINS; i++) acc[i] = a[i];
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    volatile float mv = 0.999999f, cv = 1e-6f;
    vec m, c, acc[CHAINS];
    for (int l = 0; l < LANES; l++) { m[l] = mv; c[l] = cv; }
    for (int i = 0; i < CHAINS; i++) for (int l = 0; l < LANES; l++) acc[i][l] = (float) (i + l);
    long rounds = 1 << 20;
    run(acc, m, c, rounds); /* warm-up: clocks up, code in cache */
    double best = 0;
    for (double start = now(); now() - start < seconds;) {
        double t0 = now();
        run(acc, m, c, rounds);
        double g = 2.0 * LANES * CHAINS * rounds / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    float sink = 0;
    for (int i = 0; i < CHAINS; i++) for (int l = 0; l < LANES; l++) sink += acc[i][l];
    printf("{\"row\": \"peak\", \"gflops\": %.1f, \"vectorBits\": %d, \"chains\": %d, \"sink\": %g}\n", best, BYTES * 8, CHAINS, sink);
    return 0;
}
