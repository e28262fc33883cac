/* A plain C HDF5 program using filter 47815 found through HDF5_PLUGIN_PATH.
 *
 * Build: gcc plugin_host.c $(pkg-config --cflags --libs hdf5) -o plugin_host
 * Run:   HDF5_PLUGIN_PATH=<dir with libh5z_apr.so> ./plugin_host out.h5
 *
 * Writes chunked datasets (partial edge chunks, little- and big-endian types, lossless and
 * abs modes), closes the file, reopens it, reads everything back and checks the error bound,
 * the filter recorded in the dataset creation property list and that the data shrank. Also
 * checks that an unsupported datatype is refused with h5z-apr's own error message.
 * Exit status 0 on success; every failed check prints a line starting with "FAIL".
 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILTER_APR 47815
#define NZ 37
#define NY 70
#define NX 90
#define N (NZ * NY * NX)

static int failures = 0;
#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                        \
            printf(__VA_ARGS__);                                                               \
            printf("\n");                                                                      \
            failures++;                                                                        \
        }                                                                                      \
    } while (0)

static unsigned lcg_state = 12345u;
static unsigned lcg(void) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state >> 8;
}

/* Smooth blob plus noise, in 0..4000. */
static double sample(int z, int y, int x) {
    double dz = z - NZ / 2.0, dy = y - NY / 2.0, dx = x - NX / 2.0;
    double v = 3000.0 * exp(-(dz * dz + dy * dy + dx * dx) / 600.0) + 200.0;
    return v + (double)(lcg() % 41) - 20.0;
}

static int write_dataset(hid_t file, const char *name, hid_t file_type, hid_t mem_type,
                         const void *buf, const unsigned *cd, size_t ncd) {
    hsize_t dims[3] = {NZ, NY, NX}, chunk[3] = {8, 32, 32};
    hid_t space = H5Screate_simple(3, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, chunk);
    if (H5Pset_filter(dcpl, FILTER_APR, H5Z_FLAG_MANDATORY, ncd, cd) < 0) {
        printf("FAIL H5Pset_filter(%s)\n", name);
        return -1;
    }
    hid_t d = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    herr_t r = d < 0 ? -1 : H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (d >= 0) H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    CHECK(d >= 0 && r >= 0, "writing %s", name);
    return (d >= 0 && r >= 0) ? 0 : -1;
}

/* Reads `name` as `mem_type`, checks the filter is recorded with the stored layout. */
static int read_dataset(hid_t file, const char *name, hid_t mem_type, void *buf, size_t raw) {
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    CHECK(d >= 0, "open %s", name);
    if (d < 0) return -1;
    herr_t r = H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    CHECK(r >= 0, "read %s", name);
    hid_t dcpl = H5Dget_create_plist(d);
    unsigned flags = 0, cd[32] = {0}, cfg = 0;
    size_t ncd = 32;
    char fname[128] = {0};
    herr_t fr = H5Pget_filter_by_id2(dcpl, FILTER_APR, &flags, &ncd, cd, sizeof fname, fname, &cfg);
    CHECK(fr >= 0, "filter %d not in the dcpl of %s", FILTER_APR, name);
    CHECK(strncmp(fname, "apr (h5z-apr ", 13) == 0, "filter name of %s is '%s'", name, fname);
    /* 4 user slots + marker, class, size, sign, order, rank + 3 dims. */
    CHECK(ncd == 13, "%s: %zu stored cd_values, expected 13", name, ncd);
    CHECK(cd[4] == 0x41505201u, "%s: layout marker %u", name, cd[4]);
    CHECK(cd[9] == 3 && cd[10] == 8 && cd[11] == 32 && cd[12] == 32, "%s: stored chunk dims", name);
    hsize_t stored = H5Dget_storage_size(d);
    printf("%-14s stored %8llu bytes of %8zu (ratio %.2f), filter '%s'\n", name,
           (unsigned long long)stored, raw, (double)raw / (double)stored, fname);
    H5Pclose(dcpl);
    H5Dclose(d);
    return r < 0 ? -1 : (int)stored;
}

static herr_t collect(unsigned n, const H5E_error2_t *e, void *data) {
    (void)n;
    char *out = data;
    if (e->desc && strlen(out) + strlen(e->desc) + 2 < 4096) {
        strcat(out, e->desc);
        strcat(out, "\n");
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s out.h5\n", argv[0]);
        return 2;
    }
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    printf("HDF5 %u.%u.%u, HDF5_PLUGIN_PATH=%s\n", maj, min, rel,
           getenv("HDF5_PLUGIN_PATH") ? getenv("HDF5_PLUGIN_PATH") : "(unset)");
    CHECK(H5Zfilter_avail(FILTER_APR) > 0, "filter %d not available through the plugin path",
          FILTER_APR);

    unsigned short *u16 = malloc(N * sizeof *u16), *u16r = malloc(N * sizeof *u16);
    float *f32 = malloc(N * sizeof *f32), *f32r = malloc(N * sizeof *f32);
    short *i16 = malloc(N * sizeof *i16), *i16r = malloc(N * sizeof *i16);
    for (int z = 0, i = 0; z < NZ; z++)
        for (int y = 0; y < NY; y++)
            for (int x = 0; x < NX; x++, i++) {
                double v = sample(z, y, x);
                u16[i] = (unsigned short)v;
                f32[i] = (float)(v / 7.0);
                i16[i] = (short)(v - 2000.0);
            }

    hid_t file = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(file >= 0, "create %s", argv[1]);
    const unsigned abs4[3] = {1, 4, 0};      /* |error| <= 4 */
    const unsigned abs05[3] = {1, 5, 1};     /* |error| <= 0.5 */
    const unsigned lossless[1] = {0};
    write_dataset(file, "u16_abs4", H5T_STD_U16LE, H5T_NATIVE_USHORT, u16, abs4, 3);
    write_dataset(file, "f32be_abs0.5", H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, f32, abs05, 3);
    write_dataset(file, "i16be_lossless", H5T_STD_I16BE, H5T_NATIVE_SHORT, i16, lossless, 1);

    /* An unsupported type with the filter MANDATORY must be refused with our message. */
    {
        H5E_auto2_t old_func;
        void *old_data;
        H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        hsize_t dims[1] = {100}, chunk[1] = {10};
        hid_t space = H5Screate_simple(1, dims, NULL);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 1, chunk);
        H5Pset_filter(dcpl, FILTER_APR, H5Z_FLAG_MANDATORY, 3, abs4);
        hid_t d = H5Dcreate2(file, "i64", H5T_STD_I64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        char msgs[4096] = {0};
        H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, msgs);
        CHECK(d < 0, "an int64 dataset was created with the mandatory filter");
        CHECK(strstr(msgs, "h5z-apr cannot compress a 8-byte signed integer") != NULL,
              "error stack lacks h5z-apr's message:\n%s", msgs);
        printf("int64 refused: %s", strstr(msgs, "h5z-apr") ? strstr(msgs, "h5z-apr") : msgs);
        if (d >= 0) H5Dclose(d);
        H5Pclose(dcpl);
        H5Sclose(space);
        H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    }
    H5Fclose(file);

    file = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(file >= 0, "reopen %s", argv[1]);
    int s1 = read_dataset(file, "u16_abs4", H5T_NATIVE_USHORT, u16r, N * 2);
    int s2 = read_dataset(file, "f32be_abs0.5", H5T_NATIVE_FLOAT, f32r, N * 4);
    int s3 = read_dataset(file, "i16be_lossless", H5T_NATIVE_SHORT, i16r, N * 2);
    H5Fclose(file);
    CHECK(s1 > 0 && s1 < N * 2, "u16 abs 4 did not shrink");
    CHECK(s2 > 0 && s2 < N * 4, "f32 abs 0.5 did not shrink");
    CHECK(s3 > 0 && s3 < N * 2, "i16 lossless did not shrink");

    double e1 = 0, e2 = 0;
    long diff3 = 0;
    for (int i = 0; i < N; i++) {
        double a = fabs((double)u16[i] - (double)u16r[i]);
        double b = fabs((double)f32[i] - (double)f32r[i]);
        e1 = a > e1 ? a : e1;
        e2 = b > e2 ? b : e2;
        diff3 += i16[i] != i16r[i];
    }
    printf("max error: u16 abs4 %.3f, f32be abs0.5 %.6f; i16be lossless mismatches %ld\n", e1, e2,
           diff3);
    CHECK(e1 <= 4.0, "u16 error %.3f > 4", e1);
    CHECK(e1 > 0.0, "u16 abs 4 was lossless: the filter did not run lossy");
    CHECK(e2 <= 0.5, "f32 error %.6f > 0.5", e2);
    CHECK(diff3 == 0, "lossless round trip changed %ld values", diff3);
    free(u16); free(u16r); free(f32); free(f32r); free(i16); free(i16r);
    printf(failures ? "plugin_host: %d FAILURES\n" : "plugin_host: OK\n", failures);
    return failures ? 1 : 0;
}
