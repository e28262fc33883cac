/* C API failure paths (run under valgrind by tests/capi.rs): NULL pointers, invalid arguments,
 * too-small output buffers, truncated and corrupted streams. Every call must return the
 * documented status, set a message, and never read or write outside the given buffers. */
#include "capi_check.h"

static const size_t SHAPE[2] = {16, 20};
#define NELEM (16 * 20)

static int is_stream_error(h5z_apr_status st) {
    return st == H5Z_APR_ERR_CORRUPT || st == H5Z_APR_ERR_TRUNCATED ||
           st == H5Z_APR_ERR_UNSUPPORTED;
}

/* Compresses the test chunk; returns the stream (exact size, caller frees) and its length. */
static unsigned char *make_stream(const h5z_apr_params *p, const unsigned char *src,
                                  size_t *len) {
    size_t cap = h5z_apr_max_compressed_size(H5Z_APR_DTYPE_U16, SHAPE, 2);
    unsigned char *tmp = xmalloc(cap), *s;
    *len = 0;
    CHECK_ST(h5z_apr_compress(p, H5Z_APR_DTYPE_U16, SHAPE, 2, src, NELEM * 2, tmp, cap, len),
             H5Z_APR_OK);
    s = xmalloc(*len);
    memcpy(s, tmp, *len);
    free(tmp);
    return s;
}

static void null_pointers(const unsigned char *src) {
    h5z_apr_params p = {H5Z_APR_MODE_LOSSLESS, 0, 0};
    unsigned char dst[64];
    unsigned cd[4];
    size_t len = 7, n = 4;
    h5z_apr_info info;
    const size_t nb = NELEM * 2;

    CHECK_ST(h5z_apr_compress(NULL, 3, SHAPE, 2, src, nb, dst, 64, &len), H5Z_APR_ERR_NULL_POINTER);
    CHECK(len == 0, "dst_len %zu not reset on failure", len);
    CHECK(strstr(h5z_apr_last_error(), "params") != NULL, "message '%s' does not name the argument",
          h5z_apr_last_error());
    CHECK_ST(h5z_apr_compress(&p, 3, NULL, 2, src, nb, dst, 64, &len), H5Z_APR_ERR_NULL_POINTER);
    CHECK_ST(h5z_apr_compress(&p, 3, SHAPE, 2, NULL, nb, dst, 64, &len), H5Z_APR_ERR_NULL_POINTER);
    CHECK_ST(h5z_apr_compress(&p, 3, SHAPE, 2, src, nb, NULL, 64, &len), H5Z_APR_ERR_NULL_POINTER);
    CHECK_ST(h5z_apr_compress(&p, 3, SHAPE, 2, src, nb, dst, 64, NULL), H5Z_APR_ERR_NULL_POINTER);
    CHECK_ST(h5z_apr_read_header(NULL, 100, &info), H5Z_APR_ERR_NULL_POINTER);
    CHECK_ST(h5z_apr_read_header(dst, 64, NULL), H5Z_APR_ERR_NULL_POINTER);
    CHECK_ST(h5z_apr_decompress(NULL, 100, dst, 64, &len), H5Z_APR_ERR_NULL_POINTER);
    CHECK_ST(h5z_apr_decompress(src, 100, NULL, 64, &len), H5Z_APR_ERR_NULL_POINTER);
    CHECK_ST(h5z_apr_cd_values(NULL, cd, &n), H5Z_APR_ERR_NULL_POINTER);
    CHECK_ST(h5z_apr_cd_values(&p, NULL, &n), H5Z_APR_ERR_NULL_POINTER);
    CHECK_ST(h5z_apr_cd_values(&p, cd, NULL), H5Z_APR_ERR_NULL_POINTER);
    CHECK(h5z_apr_max_compressed_size(H5Z_APR_DTYPE_U16, NULL, 2) == 0, "bound with NULL shape");
    CHECK(strlen(h5z_apr_last_error()) > 0, "no message after a NULL shape");
}

static void invalid_arguments(unsigned char *src) {
    static const size_t zero_dim[2] = {16, 0}, huge[3] = {65536, 65536, 2};
    size_t big[H5Z_APR_MAX_RANK + 1];
    h5z_apr_params p = {H5Z_APR_MODE_LOSSLESS, 0, 0};
    size_t cap = h5z_apr_max_compressed_size(H5Z_APR_DTYPE_U16, SHAPE, 2), len, i, n = 4;
    unsigned char *dst = xmalloc(cap);
    unsigned cd[4];
    const size_t nb = NELEM * 2;
    struct { int mode; double value; int effort; } bad[] = {
        {5, 0.1, 0}, {-1, 0.1, 0}, {H5Z_APR_MODE_ABS, -1, 0}, {H5Z_APR_MODE_ABS, NAN, 0},
        {H5Z_APR_MODE_APR_PARTICLES, 0, 0},
        {H5Z_APR_MODE_ABS, INFINITY, 0}, {H5Z_APR_MODE_APR, 0, 0}, {H5Z_APR_MODE_APR, -0.1, 0},
        {H5Z_APR_MODE_APR, NAN, 0}, {H5Z_APR_MODE_ABS, 1, 23}, {H5Z_APR_MODE_ABS, 1, -1},
    };
    for (i = 0; i < H5Z_APR_MAX_RANK + 1; i++) big[i] = 1;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        h5z_apr_params q;
        q.mode = bad[i].mode;
        q.value = bad[i].value;
        q.effort = bad[i].effort;
        CHECK_ST(h5z_apr_compress(&q, 3, SHAPE, 2, src, nb, dst, cap, &len),
                 H5Z_APR_ERR_INVALID_ARGUMENT);
        CHECK(strlen(h5z_apr_last_error()) > 0, "no message for bad params %zu", i);
        n = 4;
        CHECK_ST(h5z_apr_cd_values(&q, cd, &n), H5Z_APR_ERR_INVALID_ARGUMENT);
    }
    CHECK_ST(h5z_apr_compress(&p, 0, SHAPE, 2, src, nb, dst, cap, &len), H5Z_APR_ERR_INVALID_ARGUMENT);
    CHECK_ST(h5z_apr_compress(&p, 9, SHAPE, 2, src, nb, dst, cap, &len), H5Z_APR_ERR_INVALID_ARGUMENT);
    CHECK_ST(h5z_apr_compress(&p, 3, SHAPE, 0, src, nb, dst, cap, &len), H5Z_APR_ERR_INVALID_ARGUMENT);
    CHECK_ST(h5z_apr_compress(&p, 3, big, H5Z_APR_MAX_RANK + 1, src, nb, dst, cap, &len),
             H5Z_APR_ERR_INVALID_ARGUMENT);
    CHECK_ST(h5z_apr_compress(&p, 3, zero_dim, 2, src, nb, dst, cap, &len),
             H5Z_APR_ERR_INVALID_ARGUMENT);
    CHECK_ST(h5z_apr_compress(&p, 3, SHAPE, 2, src, nb - 1, dst, cap, &len),
             H5Z_APR_ERR_INVALID_ARGUMENT);
    CHECK_ST(h5z_apr_compress(&p, 3, SHAPE, 2, src, nb - 2, dst, cap, &len),
             H5Z_APR_ERR_INVALID_ARGUMENT);
    /* 8 GiB chunk: over the 4 GiB limit, rejected before src is read. */
    CHECK_ST(h5z_apr_compress(&p, H5Z_APR_DTYPE_U8, huge, 3, src, nb, dst, cap, &len),
             H5Z_APR_ERR_LIMIT_EXCEEDED);
    CHECK(h5z_apr_max_compressed_size(H5Z_APR_DTYPE_U8, huge, 3) == 0, "bound of an 8 GiB chunk");
    CHECK(h5z_apr_max_compressed_size(0, SHAPE, 2) == 0, "bound of dtype 0");
    CHECK(h5z_apr_max_compressed_size(H5Z_APR_DTYPE_U16, SHAPE, 0) == 0, "bound of rank 0");
    /* src and dst overlap */
    CHECK_ST(h5z_apr_compress(&p, H5Z_APR_DTYPE_U8, SHAPE, 2, src, NELEM, src + NELEM / 2, NELEM,
                              &len),
             H5Z_APR_ERR_INVALID_ARGUMENT);
    {
        h5z_apr_params q = {H5Z_APR_MODE_ABS, 3.14159265358979, 0}; /* no short decimal */
        n = 4;
        CHECK_ST(h5z_apr_cd_values(&q, cd, &n), H5Z_APR_ERR_INVALID_ARGUMENT);
    }
    free(dst);
}

static void small_buffers(const unsigned char *src, const unsigned char *stream, size_t len) {
    h5z_apr_params p = {H5Z_APR_MODE_LOSSLESS, 0, 0}, q = {H5Z_APR_MODE_ABS, 0.5, 0};
    unsigned char *dst = xmalloc(len - 1), *out;
    size_t got = 99, n, i;
    unsigned cd[4] = {7, 7, 7, 7};
    const size_t nb = NELEM * 2;

    CHECK_ST(h5z_apr_compress(&p, 3, SHAPE, 2, src, nb, dst, len - 1, &got),
             H5Z_APR_ERR_BUFFER_TOO_SMALL);
    CHECK(got == 0, "dst_len %zu after BUFFER_TOO_SMALL", got);
    CHECK(strlen(h5z_apr_last_error()) > 0, "no message for a small buffer");
    CHECK_ST(h5z_apr_compress(&p, 3, SHAPE, 2, src, nb, dst, 0, &got), H5Z_APR_ERR_BUFFER_TOO_SMALL);
    free(dst);

    out = xmalloc(nb - 1);
    CHECK_ST(h5z_apr_decompress(stream, len, out, nb - 1, &got), H5Z_APR_ERR_BUFFER_TOO_SMALL);
    CHECK_ST(h5z_apr_decompress(stream, len, out, 0, &got), H5Z_APR_ERR_BUFFER_TOO_SMALL);
    free(out);

    /* A larger buffer is fine; bytes past the chunk stay untouched. */
    out = xmalloc(nb + 16);
    memset(out, 0xEE, nb + 16);
    CHECK_ST(h5z_apr_decompress(stream, len, out, nb + 16, &got), H5Z_APR_OK);
    CHECK(got == nb, "decoded %zu bytes", got);
    CHECK(memcmp(out, src, nb) == 0, "lossless decode differs");
    for (i = nb; i < nb + 16; i++) CHECK(out[i] == 0xEE, "byte %zu past the chunk was written", i);
    /* NULL dst_len is allowed for decompress. */
    CHECK_ST(h5z_apr_decompress(stream, len, out, nb, NULL), H5Z_APR_OK);
    free(out);

    n = 2;
    CHECK_ST(h5z_apr_cd_values(&q, cd, &n), H5Z_APR_ERR_BUFFER_TOO_SMALL);
    CHECK(n == 3, "needed cd_values count %zu, expected 3", n);
    CHECK(cd[0] == 7 && cd[2] == 7, "cd_values written despite BUFFER_TOO_SMALL");
}

/* Every prefix of the stream is rejected; headers cut short say TRUNCATED. */
static void truncated(const unsigned char *stream, size_t len) {
    size_t cut, got;
    const size_t nb = NELEM * 2;
    unsigned char *out = xmalloc(nb);
    h5z_apr_info info;
    for (cut = 0; cut < len; cut++) {
        unsigned char *s = xmalloc(cut); /* exact size: valgrind catches over-reads */
        h5z_apr_status st;
        memcpy(s, stream, cut);
        st = h5z_apr_decompress(s, cut, out, nb, &got);
        if (cut < 16 + 4 * 2) { /* fixed header (16 bytes) + 2 dims */
            CHECK(st == H5Z_APR_ERR_TRUNCATED, "cut at %zu: %s (%s)", cut, h5z_apr_status_name(st),
                  h5z_apr_last_error());
            CHECK_ST(h5z_apr_read_header(s, cut, &info), H5Z_APR_ERR_TRUNCATED);
        } else {
            CHECK(is_stream_error(st), "cut at %zu of %zu: %s (%s)", cut, len,
                  h5z_apr_status_name(st), h5z_apr_last_error());
        }
        free(s);
    }
    free(out);
}

/* Every single-byte corruption is rejected with a stream error, never OK, never a crash. */
static void corrupted(const unsigned char *stream, size_t len, const char *label) {
    size_t i, got, rejected = 0, k;
    const size_t nb = NELEM * 2;
    static const unsigned char flips[2] = {0x01, 0x80};
    unsigned char *s = xmalloc(len), *out = xmalloc(nb);
    for (k = 0; k < 2; k++)
        for (i = 0; i < len; i++) {
            h5z_apr_status st;
            memcpy(s, stream, len);
            s[i] ^= flips[k];
            st = h5z_apr_decompress(s, len, out, nb, &got);
            /* A flipped dim may announce a bigger chunk than the buffer. */
            CHECK(is_stream_error(st) || st == H5Z_APR_ERR_BUFFER_TOO_SMALL ||
                      st == H5Z_APR_ERR_LIMIT_EXCEEDED,
                  "%s: byte %zu ^ 0x%02x of %zu: %s (%s)", label, i, flips[k], len,
                  h5z_apr_status_name(st), h5z_apr_last_error());
            rejected += st != H5Z_APR_OK;
        }
    printf("%s: %zu of %zu corrupted streams rejected\n", label, rejected, 2 * len);

    memcpy(s, stream, len);
    s[0] = 'X';
    CHECK_ST(h5z_apr_decompress(s, len, out, nb, &got), H5Z_APR_ERR_CORRUPT);
    memcpy(s, stream, len);
    s[4] = 99; /* format version from the future */
    CHECK_ST(h5z_apr_decompress(s, len, out, nb, &got), H5Z_APR_ERR_UNSUPPORTED);
    memcpy(s, stream, len);
    s[5] = 0; /* dtype code 0 */
    CHECK_ST(h5z_apr_decompress(s, len, out, nb, &got), H5Z_APR_ERR_CORRUPT);
    memcpy(s, stream, len);
    s[len / 2 + 12] ^= 0x10; /* body */
    CHECK_ST(h5z_apr_decompress(s, len, out, nb, &got), H5Z_APR_ERR_CORRUPT);
    memcpy(s, stream, len);
    s[len - 1] ^= 0x10; /* last byte */
    CHECK_ST(h5z_apr_decompress(s, len, out, nb, &got), H5Z_APR_ERR_CORRUPT);
    CHECK(strlen(h5z_apr_last_error()) > 0, "no message for a corrupt stream");
    free(s);
    free(out);
}

/* CRC-32 (IEEE, reflected), to forge streams whose checksum is valid. */
static uint32_t crc32_of(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* Caller limits on the decoded size (h5z_apr_check_stream, h5z_apr_decompress_limited),
 * with a forged stream: the apr stream of the 16x20 chunk with its header claiming 16x81920
 * (2.6 MB) and a valid CRC. The limit refuses it from the header, before any output. */
static void limits(const unsigned char *stream, size_t len) {
    const size_t nb = NELEM * 2;
    unsigned char *s = xmalloc(len), *out = xmalloc(nb), small[64];
    h5z_apr_info info;
    size_t got = 99;

    /* The genuine stream: limit = its size passes, one byte less is refused. */
    CHECK_ST(h5z_apr_check_stream(stream, len, nb, &info), H5Z_APR_OK);
    CHECK(info.nbytes == nb, "check_stream nbytes %zu", info.nbytes);
    CHECK_ST(h5z_apr_check_stream(stream, len, nb - 1, &info), H5Z_APR_ERR_LIMIT_EXCEEDED);
    CHECK(strstr(h5z_apr_last_error(), "limit") != NULL, "message '%s'", h5z_apr_last_error());
    CHECK_ST(h5z_apr_decompress_limited(stream, len, nb, out, nb, &got), H5Z_APR_OK);
    CHECK(got == nb, "decompress_limited wrote %zu", got);
    CHECK_ST(h5z_apr_decompress_limited(stream, len, nb - 1, out, nb, &got),
             H5Z_APR_ERR_LIMIT_EXCEEDED);
    CHECK(got == 0, "dst_len %zu not reset on failure", got);
    CHECK_ST(h5z_apr_decompress_limited(stream, len, SIZE_MAX, out, nb - 1, &got),
             H5Z_APR_ERR_BUFFER_TOO_SMALL);
    CHECK_ST(h5z_apr_check_stream(stream, len, SIZE_MAX, NULL), H5Z_APR_ERR_NULL_POINTER);
    CHECK_ST(h5z_apr_check_stream(NULL, len, SIZE_MAX, &info), H5Z_APR_ERR_NULL_POINTER);

    /* Forged: shape (16, 81920) in the header (rank-2 dims at bytes 16..24), CRC fixed. */
    memcpy(s, stream, len);
    CHECK(s[7] == 2 && get_le(s + 16, 4) == 16 && get_le(s + 20, 4) == 20, "header layout");
    put_le(s + 20, 81920, 4);
    put_le(s + len - 4, crc32_of(s, len - 4), 4);
    CHECK_ST(h5z_apr_check_stream(s, len, 1 << 20, &info), H5Z_APR_ERR_LIMIT_EXCEEDED);
    CHECK(strstr(h5z_apr_last_error(), "2621440") != NULL, "message '%s' lacks the size",
          h5z_apr_last_error());
    /* The limit is checked before the buffer: a tiny dst gets LIMIT_EXCEEDED, untouched. */
    memset(small, 0xAB, sizeof small);
    CHECK_ST(h5z_apr_decompress_limited(s, len, 1 << 20, small, sizeof small, &got),
             H5Z_APR_ERR_LIMIT_EXCEEDED);
    CHECK(small[0] == 0xAB && small[63] == 0xAB, "dst written before the limit check");
    /* Without a limit the header is self-consistent (so read_header alone would have had the
     * caller allocate 2.6 MB); decoding then fails on the body. */
    CHECK_ST(h5z_apr_check_stream(s, len, SIZE_MAX, &info), H5Z_APR_OK);
    CHECK(info.nbytes == 16 * 81920 * 2, "forged nbytes %zu", info.nbytes);
    /* A damaged CRC is caught by check_stream (read_header does not look at it). */
    memcpy(s, stream, len);
    s[len - 1] ^= 1;
    CHECK_ST(h5z_apr_read_header(s, len, &info), H5Z_APR_OK);
    CHECK_ST(h5z_apr_check_stream(s, len, SIZE_MAX, &info), H5Z_APR_ERR_CORRUPT);
    free(s);
    free(out);
}

int main(void) {
    h5z_apr_params lossless = {H5Z_APR_MODE_LOSSLESS, 0, 0}, abs2 = {H5Z_APR_MODE_ABS, 2, 0},
                   apr = {H5Z_APR_MODE_APR, 0.1, 0};
    unsigned char *src = xmalloc(NELEM * 2), *s1, *s2, *s3;
    size_t len1, len2, len3;

    fill_pattern(H5Z_APR_DTYPE_U16, src, NELEM);
    s1 = make_stream(&lossless, src, &len1);
    s2 = make_stream(&abs2, src, &len2);
    s3 = make_stream(&apr, src, &len3);
    CHECK(strcmp(h5z_apr_last_error(), "") == 0, "message '%s' after success", h5z_apr_last_error());

    null_pointers(src);
    invalid_arguments(src);
    if (len1 > 0 && len2 > 0 && len3 > 0) {
        small_buffers(src, s1, len1);
        truncated(s1, len1);
        corrupted(s1, len1, "lossless u16");
        corrupted(s2, len2, "abs u16");
        corrupted(s3, len3, "apr u16");
        limits(s3, len3);
    }
    CHECK(strcmp(h5z_apr_status_name(H5Z_APR_ERR_CORRUPT), "H5Z_APR_ERR_CORRUPT") == 0,
          "status name");
    CHECK(strcmp(h5z_apr_status_name(1234), "unknown status") == 0, "unknown status name");

    free(s1);
    free(s2);
    free(s3);
    free(src);
    return finish();
}
