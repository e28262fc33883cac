/* Shared helpers of the C API test programs (tests/c/capi_*.c): checks that count and report,
 * and explicit little-endian element (de)serialisation so the tests hold on any host. */
#ifndef CAPI_CHECK_H
#define CAPI_CHECK_H

#include "h5z_apr.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        checks++;                                                                          \
        if (!(cond)) {                                                                     \
            failures++;                                                                    \
            fprintf(stderr, "FAIL %s:%d: (%s) ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

/* Checks the status of a call, printing names and the last-error message on mismatch. */
#define CHECK_ST(call, expected)                                                           \
    do {                                                                                   \
        h5z_apr_status st_ = (call);                                                       \
        CHECK(st_ == (expected), "%s\n    got %s, expected %s; last error: %s", #call,     \
              h5z_apr_status_name(st_), h5z_apr_status_name(expected),                     \
              h5z_apr_last_error());                                                       \
    } while (0)

static inline int finish(void) {
    if (failures) {
        fprintf(stderr, "%d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("ALL OK %d\n", checks);
    return 0;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static inline size_t dtype_size(int dt) {
    switch (dt) {
    case H5Z_APR_DTYPE_U8: case H5Z_APR_DTYPE_I8: return 1;
    case H5Z_APR_DTYPE_U16: case H5Z_APR_DTYPE_I16: return 2;
    case H5Z_APR_DTYPE_U32: case H5Z_APR_DTYPE_I32: case H5Z_APR_DTYPE_F32: return 4;
    case H5Z_APR_DTYPE_F64: return 8;
    default: return 0;
    }
}

static inline int dtype_is_float(int dt) { return dt == H5Z_APR_DTYPE_F32 || dt == H5Z_APR_DTYPE_F64; }

/* Smallest and largest value of an integer dtype. */
static inline void dtype_range(int dt, double *lo, double *hi) {
    switch (dt) {
    case H5Z_APR_DTYPE_U8: *lo = 0; *hi = 255; break;
    case H5Z_APR_DTYPE_I8: *lo = -128; *hi = 127; break;
    case H5Z_APR_DTYPE_U16: *lo = 0; *hi = 65535; break;
    case H5Z_APR_DTYPE_I16: *lo = -32768; *hi = 32767; break;
    case H5Z_APR_DTYPE_U32: *lo = 0; *hi = 4294967295.0; break;
    case H5Z_APR_DTYPE_I32: *lo = -2147483648.0; *hi = 2147483647.0; break;
    default: *lo = -1e30; *hi = 1e30; break;
    }
}

static inline void put_le(unsigned char *p, uint64_t v, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t get_le(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    size_t i;
    for (i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Stores v (already in range, integral for integer types) as element i of a little-endian buffer. */
static inline void store(int dt, unsigned char *buf, size_t i, double v) {
    size_t sz = dtype_size(dt);
    unsigned char *p = buf + i * sz;
    if (dt == H5Z_APR_DTYPE_F32) {
        float f = (float)v;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        put_le(p, bits, 4);
    } else if (dt == H5Z_APR_DTYPE_F64) {
        uint64_t bits;
        memcpy(&bits, &v, 8);
        put_le(p, bits, 8);
    } else {
        put_le(p, (uint64_t)(int64_t)v, sz);
    }
}

/* Element i of a little-endian buffer as a double. */
static inline double load(int dt, const unsigned char *buf, size_t i) {
    size_t sz = dtype_size(dt);
    uint64_t u = get_le(buf + i * sz, sz);
    switch (dt) {
    case H5Z_APR_DTYPE_U8: return (double)(uint8_t)u;
    case H5Z_APR_DTYPE_I8: return (double)(int8_t)(uint8_t)u;
    case H5Z_APR_DTYPE_U16: return (double)(uint16_t)u;
    case H5Z_APR_DTYPE_I16: return (double)(int16_t)(uint16_t)u;
    case H5Z_APR_DTYPE_U32: return (double)(uint32_t)u;
    case H5Z_APR_DTYPE_I32: return (double)(int32_t)(uint32_t)u;
    case H5Z_APR_DTYPE_F32: {
        uint32_t bits = (uint32_t)u;
        float f;
        memcpy(&f, &bits, 4);
        return (double)f;
    }
    default: {
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    }
}

static uint32_t lcg_state = 12345u;
static inline double noise(void) { /* uniform in [-1, 1) */
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (double)(lcg_state >> 8) / 8388608.0 - 1.0;
}

/* Fills n elements with a smooth pattern plus noise spanning a good part of the dtype range. */
static inline void fill_pattern(int dt, unsigned char *buf, size_t n) {
    double lo, hi, v;
    size_t i;
    dtype_range(dt, &lo, &hi);
    for (i = 0; i < n; i++) {
        double t = (double)i;
        if (dtype_is_float(dt)) {
            v = 100.0 * sin(t * 0.05) * cos(t * 0.013) + 3.0 * noise();
        } else {
            double mid = lo / 2 + hi / 2, span = (hi - lo) * 0.3;
            v = floor(mid + span * sin(t * 0.05) * cos(t * 0.013) + span * 0.05 * noise());
            if (v < lo) v = lo;
            if (v > hi) v = hi;
        }
        store(dt, buf, i, v);
    }
}

#endif
