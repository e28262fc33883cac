/* C API round trips (run under valgrind by tests/capi.rs): every dtype losslessly, the abs
 * bound, apr mode, several ranks, the size bound, header query, cd_values and version. */
#include "capi_check.h"

#ifndef EXPECTED_VERSION
#error "compile with -DEXPECTED_VERSION=\"x.y.z\" (the crate version)"
#endif

static size_t prod(const size_t *shape, size_t rank) {
    size_t n = 1, i;
    for (i = 0; i < rank; i++) n *= shape[i];
    return n;
}

/* Compresses src, checks the stream against the bound and its header, decodes it, and returns
 * the decoded buffer (caller frees) or NULL. */
static unsigned char *round_trip(const h5z_apr_params *p, int dt, const size_t *shape, size_t rank,
                                 const unsigned char *src, const char *label) {
    size_t n = prod(shape, rank), nb = n * dtype_size(dt), cap, len = 12345, len2 = 0, olen = 0, i;
    unsigned char *dst, *dst2, *out;
    h5z_apr_info info;

    cap = h5z_apr_max_compressed_size(dt, shape, rank);
    CHECK(cap > 0, "%s: max_compressed_size is 0: %s", label, h5z_apr_last_error());
    if (cap == 0) return NULL;
    dst = xmalloc(cap); /* exact sizes everywhere: valgrind flags any write past them */
    CHECK_ST(h5z_apr_compress(p, dt, shape, rank, src, nb, dst, cap, &len), H5Z_APR_OK);
    CHECK(strcmp(h5z_apr_last_error(), "") == 0, "%s: last error not cleared", label);
    CHECK(len > 0 && len <= cap, "%s: stream length %zu outside 1..=%zu", label, len, cap);
    if (len == 0 || len > cap) {
        free(dst);
        return NULL;
    }
    printf("%-28s %8zu bytes -> %8zu (bound %zu)\n", label, nb, len, cap);

    /* Deterministic, and a buffer of exactly the stream length is enough. */
    dst2 = xmalloc(len);
    CHECK_ST(h5z_apr_compress(p, dt, shape, rank, src, nb, dst2, len, &len2), H5Z_APR_OK);
    CHECK(len2 == len && memcmp(dst, dst2, len) == 0, "%s: second compression differs", label);
    free(dst2);

    memset(&info, 0xAB, sizeof info);
    CHECK_ST(h5z_apr_read_header(dst, len, &info), H5Z_APR_OK);
    /* version 6 (the newest, h5z_apr_format_version()) for floats in abs (bound > 0) and apr
       mode (float-grid tiles), else 2 for lossless/abs, 4 for apr, 5 for noise */
    CHECK(info.format_version == ((dt == H5Z_APR_DTYPE_F32 || dt == H5Z_APR_DTYPE_F64) &&
                                          (p->mode == H5Z_APR_MODE_APR ||
                                           (p->mode == H5Z_APR_MODE_ABS && p->value > 0))
                                      ? 6
                                  : p->mode == H5Z_APR_MODE_NOISE ? 5
                                  : p->mode == H5Z_APR_MODE_APR   ? 4
                                                                  : 2) &&
              h5z_apr_format_version() == 6,
          "%s: format version %d", label, info.format_version);
    CHECK(info.dtype == dt, "%s: header dtype %d, expected %d", label, info.dtype, dt);
    CHECK(info.mode == p->mode, "%s: header mode %d, expected %d", label, info.mode, p->mode);
    CHECK(info.value == (p->mode == H5Z_APR_MODE_LOSSLESS ? 0.0 : p->value),
          "%s: header value %g, expected %g", label, info.value, p->value);
    CHECK(info.elem_size == dtype_size(dt), "%s: elem_size %zu", label, info.elem_size);
    CHECK(info.rank == rank, "%s: header rank %zu, expected %zu", label, info.rank, rank);
    for (i = 0; i < H5Z_APR_MAX_RANK; i++) {
        size_t want = i < rank ? shape[i] : 0;
        CHECK(info.shape[i] == want, "%s: shape[%zu] = %zu, expected %zu", label, i,
              info.shape[i], want);
    }
    CHECK(info.nelems == n && info.nbytes == nb, "%s: nelems %zu nbytes %zu, expected %zu %zu",
          label, info.nelems, info.nbytes, n, nb);

    out = xmalloc(nb);
    CHECK_ST(h5z_apr_decompress(dst, len, out, nb, &olen), H5Z_APR_OK);
    CHECK(olen == nb, "%s: decoded %zu bytes, expected %zu", label, olen, nb);
    free(dst);
    return out;
}

static void check_lossless(int dt, const size_t *shape, size_t rank, const char *label) {
    size_t n = prod(shape, rank), nb = n * dtype_size(dt);
    h5z_apr_params p = {H5Z_APR_MODE_LOSSLESS, 0.0, 0};
    unsigned char *src = xmalloc(nb), *out;
    fill_pattern(dt, src, n);
    if (dtype_is_float(dt)) { /* bit patterns a lossy shortcut would lose */
        store(dt, src, 0, -0.0);
        store(dt, src, 1, INFINITY);
        store(dt, src, 2, -INFINITY);
        store(dt, src, 3, NAN);
        store(dt, src, 4, dt == H5Z_APR_DTYPE_F32 ? 1e-40 : 1e-310); /* subnormal */
        store(dt, src, 5, 1.0 / 3.0);
    }
    out = round_trip(&p, dt, shape, rank, src, label);
    if (out) {
        CHECK(memcmp(src, out, nb) == 0, "%s: lossless round trip is not bit-exact", label);
        free(out);
    }
    free(src);
}

static void check_abs(int dt, double bound, const size_t *shape, size_t rank, const char *label) {
    size_t n = prod(shape, rank), nb = n * dtype_size(dt), i, worst_i = 0;
    h5z_apr_params p = {H5Z_APR_MODE_ABS, bound, 0};
    double allowed = dtype_is_float(dt) ? bound : floor(bound), worst = 0;
    unsigned char *src = xmalloc(nb), *out;
    fill_pattern(dt, src, n);
    out = round_trip(&p, dt, shape, rank, src, label);
    if (out) {
        int changed = 0;
        for (i = 0; i < n; i++) {
            double e = fabs(load(dt, src, i) - load(dt, out, i));
            if (!(e <= worst)) { /* also catches NaN */
                worst = e;
                worst_i = i;
            }
            changed |= e != 0;
        }
        CHECK(worst <= allowed, "%s: max error %g at %zu exceeds the bound %g", label, worst,
              worst_i, allowed);
        printf("%-28s max error %g (bound %g)\n", label, worst, allowed);
        (void)changed;
        free(out);
    }
    free(src);
}

/* Blobs on a dark background, as in fluorescence microscopy. */
static void check_apr(int dt, double e, const char *label) {
    static const size_t shape[3] = {12, 40, 44};
    size_t n = prod(shape, 3), nb = n * dtype_size(dt), z, y, x, i;
    h5z_apr_params p = {H5Z_APR_MODE_APR, e, 5};
    unsigned char *src = xmalloc(nb), *out;
    double lo = 1e300, hi = -1e300, sum_err = 0;
    for (z = 0; z < shape[0]; z++)
        for (y = 0; y < shape[1]; y++)
            for (x = 0; x < shape[2]; x++) {
                double dz = (double)z - 6, dy = (double)y - 18, dx = (double)x - 25;
                double v = 100 + 3000 * exp(-(dz * dz + dy * dy + dx * dx) / 40.0) + 5 * noise();
                v = floor(v);
                i = (z * shape[1] + y) * shape[2] + x;
                store(dt, src, i, v);
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
    out = round_trip(&p, dt, shape, 3, src, label);
    if (out) {
        double max_err = 0;
        for (i = 0; i < n; i++) {
            double d = fabs(load(dt, src, i) - load(dt, out, i));
            sum_err += d;
            if (!(d <= max_err)) max_err = d;
        }
        /* The codec tests check the APR reconstruction bound; here the decoded chunk must be
         * the same image, not garbage or a different layout. */
        CHECK(sum_err / (double)n <= 0.05 * (hi - lo), "%s: mean error %g vs range %g", label,
              sum_err / (double)n, hi - lo);
        CHECK(max_err <= 0.5 * (hi - lo), "%s: max error %g vs range %g", label, max_err,
              hi - lo);
        printf("%-28s mean error %g, max error %g, range %g\n", label, sum_err / (double)n,
               max_err, hi - lo);
        free(out);
    }
    free(src);
}

static void check_cd(int mode, double value, int effort, const unsigned *want, size_t nwant) {
    h5z_apr_params p;
    unsigned cd[H5Z_APR_CD_NELMTS_MAX] = {0};
    size_t n = H5Z_APR_CD_NELMTS_MAX, i;
    p.mode = mode;
    p.value = value;
    p.effort = effort;
    CHECK_ST(h5z_apr_cd_values(&p, cd, &n), H5Z_APR_OK);
    CHECK(n == nwant, "cd_values(%d, %g, %d): %zu values, expected %zu", mode, value, effort, n,
          nwant);
    for (i = 0; i < nwant && i < n; i++)
        CHECK(cd[i] == want[i], "cd_values(%d, %g, %d)[%zu] = %u, expected %u", mode, value,
              effort, i, cd[i], want[i]);
}

/* Threads (h5z_apr_set_nthreads): a 1 MiB u16 chunk (2 tiles) compressed on 1 and 2 threads
 * gives the same bytes, and decodes alike on both. */
static void check_threads(void) {
    static const size_t shape[3] = {16, 128, 256};
    const size_t n = 16 * 128 * 256, cap = 2 * n + 4096;
    uint8_t *src = malloc(2 * n), *a = malloc(cap), *b = malloc(cap), *out = malloc(2 * n);
    size_t la = 0, lb = 0, lo = 0, i;
    h5z_apr_params p = {H5Z_APR_MODE_ABS, 2.0, 0};
    uint32_t s = 7;
    for (i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        unsigned v = (unsigned)(1000 + (i % 256) * 3 + ((i / 256) % 128) * 2 + (s >> 28));
        src[2 * i] = (uint8_t)v;
        src[2 * i + 1] = (uint8_t)(v >> 8);
    }
    h5z_apr_set_nthreads(1);
    CHECK(h5z_apr_get_nthreads() == 1, "get_nthreads %d", h5z_apr_get_nthreads());
    CHECK(h5z_apr_compress(&p, H5Z_APR_DTYPE_U16, shape, 3, src, 2 * n, a, cap, &la) == H5Z_APR_OK,
          "threads: compress 1: %s", h5z_apr_last_error());
    h5z_apr_set_nthreads(2);
    CHECK(h5z_apr_get_nthreads() == 2, "get_nthreads %d", h5z_apr_get_nthreads());
    CHECK(h5z_apr_compress(&p, H5Z_APR_DTYPE_U16, shape, 3, src, 2 * n, b, cap, &lb) == H5Z_APR_OK,
          "threads: compress 2: %s", h5z_apr_last_error());
    CHECK(la == lb && memcmp(a, b, la) == 0, "threads: 1 and 2 threads give different bytes");
    CHECK(h5z_apr_decompress(a, la, out, 2 * n, &lo) == H5Z_APR_OK && lo == 2 * n,
          "threads: decompress: %s", h5z_apr_last_error());
    for (i = 0; i < n; i++) {
        int x = src[2 * i] | src[2 * i + 1] << 8, y = out[2 * i] | out[2 * i + 1] << 8;
        if (abs(x - y) > 2) {
            CHECK(0, "threads: element %zu: %d -> %d", i, x, y);
            break;
        }
    }
    h5z_apr_set_nthreads(0);
    free(src);
    free(a);
    free(b);
    free(out);
}

int main(void) {
    static const size_t s1[1] = {1000}, s2[2] = {37, 41}, s3[3] = {6, 19, 23},
                        s4[4] = {2, 3, 5, 7};
    char label[64];
    int dt;

    CHECK(H5Z_FILTER_APR == 47815, "filter id %d", H5Z_FILTER_APR);
    CHECK(strcmp(h5z_apr_version(), EXPECTED_VERSION) == 0, "version '%s', expected '%s'",
          h5z_apr_version(), EXPECTED_VERSION);
    CHECK(h5z_apr_format_version() >= 1, "format version %d", h5z_apr_format_version());

    for (dt = H5Z_APR_DTYPE_U8; dt <= H5Z_APR_DTYPE_F64; dt++) {
        sprintf(label, "lossless dtype %d 3-D", dt);
        check_lossless(dt, s3, 3, label);
    }
    check_lossless(H5Z_APR_DTYPE_U16, s1, 1, "lossless u16 1-D");
    check_lossless(H5Z_APR_DTYPE_F32, s2, 2, "lossless f32 2-D");
    check_lossless(H5Z_APR_DTYPE_I16, s4, 4, "lossless i16 4-D");

    check_abs(H5Z_APR_DTYPE_F32, 0.25, s3, 3, "abs f32 0.25");
    check_abs(H5Z_APR_DTYPE_F64, 0.001, s2, 2, "abs f64 0.001");
    check_abs(H5Z_APR_DTYPE_I16, 3, s3, 3, "abs i16 3");
    check_abs(H5Z_APR_DTYPE_U8, 2, s1, 1, "abs u8 2");
    check_abs(H5Z_APR_DTYPE_U32, 10.5, s4, 4, "abs u32 10.5");
    check_abs(H5Z_APR_DTYPE_U16, 0, s3, 3, "abs u16 0");

    check_threads();
    check_apr(H5Z_APR_DTYPE_U16, 0.1, "apr u16 E=0.1");
    check_apr(H5Z_APR_DTYPE_F32, 0.05, "apr f32 E=0.05");

    {
        static const unsigned abs4[] = {1, 4, 0}, e01[] = {2, 1, 1}, b5e4[] = {1, 5, 4},
                              lossless[] = {0, 0, 0}, with_effort[] = {1, 1225, 2, 9},
                              rounded[] = {1, 3, 1};
        check_cd(H5Z_APR_MODE_ABS, 4, 0, abs4, 3);
        check_cd(H5Z_APR_MODE_APR, 0.1, 0, e01, 3);
        check_cd(H5Z_APR_MODE_ABS, 0.0005, 0, b5e4, 3);
        check_cd(H5Z_APR_MODE_LOSSLESS, 0, 0, lossless, 3);
        check_cd(H5Z_APR_MODE_ABS, 12.25, 9, with_effort, 4);
        check_cd(H5Z_APR_MODE_ABS, 0.1 + 0.2, 0, rounded, 3); /* 0.30000000000000004 */
    }
    return finish();
}
