/* A STREAM-style triad (and read-sum) to check `rooftune hw probe` against.
 *
 * Like STREAM (McCalpin, https://www.cs.virginia.edu/stream/): three arrays of
 * doubles far larger than the caches, initialised in parallel (first touch),
 * a[i] = b[i] + s*c[i] timed NTIMES, best time reported, 3 x 8 bytes counted
 * per element (the write-allocate read of a[] is not counted). GB/s decimal.
 *
 * Build: gcc -O3 -fopenmp scripts/stream-triad.c -o stream-triad
 * Run:   OMP_NUM_THREADS=2 ./stream-triad [MiB per array, default 256] [repetitions, default 20]
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    int ntimes = argc > 2 ? atoi(argv[2]) : 20;
    if (mib == 0 || ntimes < 1) {
        fprintf(stderr, "usage: %s [MiB per array] [repetitions]\n", argv[0]);
        return 2;
    }
    size_t n = mib * 1024 * 1024 / sizeof(double);
    double *a = malloc(n * sizeof(double));
    double *b = malloc(n * sizeof(double));
    double *c = malloc(n * sizeof(double));
    if (!a || !b || !c) {
        fprintf(stderr, "cannot allocate 3 x %zu MiB\n", mib);
        return 1;
    }
    const double s = 3.0;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        a[i] = 0.0;
        b[i] = 1.0;
        c[i] = 2.0;
    }
    double best_triad = 1e30, best_read = 1e30, sum = 0.0;
    for (int k = 0; k < ntimes; k++) {
        double t = omp_get_wtime();
        /* Eight partial sums so the loop is bound by memory, not by one add chain
           (without -ffast-math gcc may not reorder a floating-point reduction). */
        double r = 0.0;
#pragma omp parallel reduction(+ : r)
        {
            double p[8] = {0};
#pragma omp for schedule(static)
            for (size_t i = 0; i < n / 8; i++)
                for (int j = 0; j < 8; j++)
                    p[j] += b[8 * i + j] + c[8 * i + j];
            for (int j = 0; j < 8; j++)
                r += p[j];
        }
        for (size_t i = n / 8 * 8; i < n; i++)
            r += b[i] + c[i];
        t = omp_get_wtime() - t;
        sum += r;
        if (t < best_read)
            best_read = t;
    }
    for (int k = 0; k < ntimes; k++) {
        double t = omp_get_wtime();
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + s * c[i];
        t = omp_get_wtime() - t;
        if (t < best_triad)
            best_triad = t;
    }
    double check = 0.0;
    for (size_t i = 0; i < n; i++)
        check += a[i];
    if (check != 7.0 * (double)n || sum != 3.0 * (double)n * ntimes) {
        fprintf(stderr, "checksum mismatch: %g (expected %g)\n", check, 7.0 * (double)n);
        return 1;
    }
    printf("threads %d, 3 x %zu MiB, best of %d\n", omp_get_max_threads(), mib, ntimes);
    printf("read_gb_s %.2f\n", 2.0 * 8.0 * (double)n / best_read / 1e9);
    printf("triad_gb_s %.2f\n", 3.0 * 8.0 * (double)n / best_triad / 1e9);
    return 0;
}
