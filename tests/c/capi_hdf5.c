/* Registers the filter with the libhdf5 this program links (no HDF5_PLUGIN_PATH), writes
 * chunked datasets through it, reads them back, and checks the raw chunks are APR streams.
 * Usage: capi_hdf5 FILE.h5 (run by tests/capi.rs). */
#include "capi_check.h"

#include <hdf5.h>

#define CHECK_H5(call) CHECK((call) >= 0, "%s failed", #call)

/* Writes data (memory type mtype) as a chunked dataset filtered with params. */
static void write_dataset(hid_t file, const char *name, hid_t ftype, hid_t mtype, int rank,
                          const hsize_t *dims, const hsize_t *chunk, const h5z_apr_params *p,
                          const void *data) {
    unsigned cd[H5Z_APR_CD_NELMTS_MAX];
    size_t n = H5Z_APR_CD_NELMTS_MAX;
    hid_t space = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), dset;
    CHECK_ST(h5z_apr_cd_values(p, cd, &n), H5Z_APR_OK);
    CHECK_H5(H5Pset_chunk(dcpl, rank, chunk));
    CHECK_H5(H5Pset_filter(dcpl, H5Z_FILTER_APR, H5Z_FLAG_MANDATORY, n, cd));
    dset = H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(dset >= 0, "H5Dcreate2(%s) failed", name);
    if (dset >= 0) {
        CHECK_H5(H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
        CHECK_H5(H5Dclose(dset));
    }
    H5Pclose(dcpl);
    H5Sclose(space);
}

/* Reads a dataset back, checks its filter pipeline and its first raw chunk. */
static int read_dataset(hid_t file, const char *name, hid_t mtype, const h5z_apr_params *p,
                        int dtype, int rank, const hsize_t *chunk, size_t raw_bytes, void *out) {
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT), dcpl;
    unsigned flags = 0, cd[16], fmask = 0;
    size_t n = 16, i;
    char fname[128] = "";
    hsize_t offset[H5S_MAX_RANK] = {0}, csize = 0;
    h5z_apr_info info;
    CHECK(dset >= 0, "H5Dopen2(%s)", name);
    if (dset < 0) return -1;
    dcpl = H5Dget_create_plist(dset);
    CHECK_H5(H5Pget_filter_by_id2(dcpl, H5Z_FILTER_APR, &flags, &n, cd, sizeof fname, fname, NULL));
    CHECK(n >= 1 && (int)cd[0] == p->mode, "%s: stored cd_values[0] = %u, mode %d", name, cd[0],
          p->mode);
    CHECK(strstr(fname, "apr") != NULL || strstr(fname, "APR") != NULL, "%s: filter name '%s'",
          name, fname);
    H5Pclose(dcpl);

    /* The raw chunk is an APR stream the C API decodes on its own. */
    CHECK_H5(H5Dget_chunk_storage_size(dset, offset, &csize));
    if (csize > 0) {
        unsigned char *raw = xmalloc((size_t)csize);
        size_t chunk_elems = 1;
        for (i = 0; i < (size_t)rank; i++) chunk_elems *= (size_t)chunk[i];
        CHECK_H5(H5Dread_chunk(dset, H5P_DEFAULT, offset, &fmask, raw));
        CHECK(fmask == 0, "%s: chunk stored unfiltered (mask %u)", name, fmask);
        CHECK_ST(h5z_apr_read_header(raw, (size_t)csize, &info), H5Z_APR_OK);
        CHECK(info.dtype == dtype && info.mode == p->mode, "%s: chunk dtype %d mode %d", name,
              info.dtype, info.mode);
        CHECK(info.nelems == chunk_elems, "%s: chunk holds %zu elements, expected %zu", name,
              info.nelems, chunk_elems);
        free(raw);
    }
    printf("%-10s raw %8zu bytes, stored %8llu bytes\n", name, raw_bytes,
           (unsigned long long)H5Dget_storage_size(dset));
    CHECK_H5(H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out));
    H5Dclose(dset);
    return 0;
}

int main(int argc, char **argv) {
    enum { NY = 70, NX = 50, NZ = 9, NY3 = 30, NX3 = 33 };
    static const hsize_t dims2[2] = {NY, NX}, chunk2[2] = {32, 24};
    static const hsize_t dims3[3] = {NZ, NY3, NX3}, chunk3[3] = {4, 16, 16};
    h5z_apr_params lossless = {H5Z_APR_MODE_LOSSLESS, 0, 0}, absp = {H5Z_APR_MODE_ABS, 0.5, 0},
                   apr = {H5Z_APR_MODE_APR, 0.1, 0};
    static unsigned short u16[NY * NX], u16_back[NY * NX], blob[NY * NX], blob_back[NY * NX];
    static float f32[NZ * NY3 * NX3], f32_back[NZ * NY3 * NX3];
    unsigned int config = 0;
    hid_t file;
    size_t i;
    double worst = 0, mean_err = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.h5\n", argv[0]);
        return 2;
    }
    for (i = 0; i < NY * NX; i++) {
        double y = (double)(i / NX) - 35, x = (double)(i % NX) - 25;
        u16[i] = (unsigned short)(1000 + 500 * sin((double)i * 0.01) + (i % 7));
        blob[i] = (unsigned short)(100 + 3000 * exp(-(y * y + x * x) / 60.0));
    }
    for (i = 0; i < NZ * NY3 * NX3; i++) f32[i] = (float)(50 * sin((double)i * 0.02) + noise());

    CHECK(H5Zfilter_avail(H5Z_FILTER_APR) <= 0, "filter available before registration");
    CHECK_ST(h5z_apr_register(), H5Z_APR_OK);
    CHECK(H5Zfilter_avail(H5Z_FILTER_APR) > 0, "filter not available after h5z_apr_register");
    CHECK_ST(h5z_apr_register(), H5Z_APR_OK); /* idempotent */
    CHECK_H5(H5Zget_filter_info(H5Z_FILTER_APR, &config));
    CHECK((config & H5Z_FILTER_CONFIG_ENCODE_ENABLED) && (config & H5Z_FILTER_CONFIG_DECODE_ENABLED),
          "filter config %u", config);

    file = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(file >= 0, "H5Fcreate(%s)", argv[1]);
    if (file < 0) return finish();
    write_dataset(file, "lossless", H5T_STD_U16LE, H5T_NATIVE_USHORT, 2, dims2, chunk2, &lossless,
                  u16);
    write_dataset(file, "abs", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dims3, chunk3, &absp, f32);
    write_dataset(file, "apr", H5T_STD_U16LE, H5T_NATIVE_USHORT, 2, dims2, chunk2, &apr, blob);
    CHECK_H5(H5Fclose(file));

    file = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(file >= 0, "H5Fopen(%s)", argv[1]);
    if (file < 0) return finish();
    if (read_dataset(file, "lossless", H5T_NATIVE_USHORT, &lossless, H5Z_APR_DTYPE_U16, 2, chunk2,
                     sizeof u16, u16_back) == 0)
        CHECK(memcmp(u16, u16_back, sizeof u16) == 0, "lossless dataset differs");
    if (read_dataset(file, "abs", H5T_NATIVE_FLOAT, &absp, H5Z_APR_DTYPE_F32, 3, chunk3, sizeof f32,
                     f32_back) == 0) {
        for (i = 0; i < NZ * NY3 * NX3; i++) {
            double e = fabs((double)f32[i] - (double)f32_back[i]);
            if (!(e <= worst)) worst = e;
        }
        CHECK(worst <= 0.5, "abs dataset: max error %g > 0.5", worst);
    }
    if (read_dataset(file, "apr", H5T_NATIVE_USHORT, &apr, H5Z_APR_DTYPE_U16, 2, chunk2,
                     sizeof blob, blob_back) == 0) {
        for (i = 0; i < NY * NX; i++) mean_err += fabs((double)blob[i] - (double)blob_back[i]);
        mean_err /= NY * NX;
        CHECK(mean_err <= 0.05 * 3000, "apr dataset: mean error %g", mean_err);
    }
    CHECK_H5(H5Fclose(file));
    printf("abs max error %g, apr mean error %g\n", worst, mean_err);
    return finish();
}
