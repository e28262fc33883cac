/* Parallel HDF5 (MPI-IO) end-to-end test of filter 47815, loaded as a plugin through
 * HDF5_PLUGIN_PATH (this program does not link h5z-apr).
 *
 * Every rank writes its own slab (split along axis 0) of chunked datasets filtered with 47815,
 * collectively (H5FD_MPIO_COLLECTIVE; filtered collective writes need HDF5 >= 1.10.2). Chunk
 * boundaries do not line up with the slab boundaries, so several ranks contribute to one chunk.
 * Unfiltered copies of the input (orig_u16, orig_f32) are written too, as the reference for the
 * serial check (tests/mpi/check_serial.py). Then, in the same run:
 *  - the pipeline (H5Pget_filter2) shows filter 47815 with the expected cd_values;
 *  - every chunk (H5Dget_chunk_info, H5Dget_chunk_storage_size) is stored filtered and the
 *    dataset's chunks together are smaller than the raw data;
 *  - HDF5 reports the write was really collective (H5Pget_mpio_actual_io_mode / no_collective_cause);
 *  - a collective parallel read, rank r reading the slab rank r+1 wrote, checks |x - x'| <= bound
 *    on every element (abs mode) and bit-exactness (lossless).
 *
 * Input: real data when the .npy files exist (uint16 C-order '<u2', float32 '<f4', 3-D), else a
 * synthetic smooth field + noise (announced loudly).
 * Usage: mpirun -np N mpi_filter OUT.h5 [U16.npy|-] [F32.npy|-]
 * Output: PASS/FAIL lines from rank 0 (failures from any rank), exit status 1 on any failure. */
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILTER_ID 47815

static int rank, nranks, fails;

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fails++;                                                                      \
            fprintf(stderr, "FAIL rank %d %s:%d: ", rank, __FILE__, __LINE__);            \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
        }                                                                                 \
    } while (0)
#define CHECK_H5(call) CHECK((call) >= 0, "%s failed", #call)

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "rank %d: out of memory (%zu bytes)\n", rank, n);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    return p;
}

/* Reads a 3-D C-order little-endian .npy of dtype descr ("<u2", "<f4"). Returns NULL (with a
 * message) when the file is absent or not of that form. */
static void *load_npy(const char *path, const char *descr, size_t esize, hsize_t dims[3]) {
    FILE *f;
    unsigned char pre[12];
    size_t hlen, n;
    char *hdr, *p, want[32];
    unsigned long long d0, d1, d2;
    void *data;
    if (!path || strcmp(path, "-") == 0 || !(f = fopen(path, "rb"))) return NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) goto bad;
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    } else {
        if (fread(pre + 10, 1, 2, f) != 2) goto bad;
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) |
               ((size_t)pre[11] << 24);
    }
    hdr = xmalloc(hlen + 1);
    if (fread(hdr, 1, hlen, f) != hlen) {
        free(hdr);
        goto bad;
    }
    hdr[hlen] = 0;
    snprintf(want, sizeof want, "'descr': '%s'", descr);
    p = strstr(hdr, "'shape': (");
    if (!strstr(hdr, want) || !strstr(hdr, "'fortran_order': False") || !p ||
        sscanf(p, "'shape': (%llu, %llu, %llu)", &d0, &d1, &d2) != 3) {
        if (rank == 0) fprintf(stderr, "%s: not a 3-D C-order %s array (%s)\n", path, descr, hdr);
        free(hdr);
        goto bad;
    }
    free(hdr);
    dims[0] = d0, dims[1] = d1, dims[2] = d2;
    n = (size_t)(d0 * d1 * d2);
    data = xmalloc(n * esize);
    if (fread(data, esize, n, f) != n) {
        free(data);
        goto bad;
    }
    fclose(f);
    return data;
bad:
    fclose(f);
    return NULL;
}

/* Deterministic noise in [-0.5, 0.5) (same on every rank). */
static double noise(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0 - 0.5;
}

/* Smooth blobs + noise: used only when the real data is absent. */
static void synth(hsize_t dims[3], unsigned short **u16, float **f32) {
    size_t n = (size_t)(dims[0] * dims[1] * dims[2]), i;
    uint64_t s = 12345;
    *u16 = xmalloc(n * sizeof **u16);
    *f32 = xmalloc(n * sizeof **f32);
    for (i = 0; i < n; i++) {
        double z = (double)(i / (dims[1] * dims[2])) / (double)dims[0] - 0.5;
        double y = (double)(i / dims[2] % dims[1]) / (double)dims[1] - 0.5;
        double x = (double)(i % dims[2]) / (double)dims[2] - 0.5;
        double r2 = x * x + y * y + z * z;
        double v = 1500 * exp(-r2 / 0.05) + 300 * sin(9 * x) * cos(7 * y) + 400;
        (*u16)[i] = (unsigned short)(v + 40 * noise(&s));
        (*f32)[i] = (float)(0.1 * sin(11 * x + 3 * z) * exp(-r2 / 0.1) + 0.02 * noise(&s));
    }
}

typedef struct {
    const char *name;
    hid_t ftype, mtype;
    size_t esize;
    const void *data; /* full array, identical on every rank */
    const hsize_t *dims, *chunk;
    size_t ncd;
    unsigned cd[4];
    double bound; /* 0 = lossless: bit-exact */
} dset_spec;

/* This rank's slab along axis 0 of dims; write r covers [start, start + count). */
static void slab(const hsize_t *dims, int r, hsize_t start[3], hsize_t count[3]) {
    start[0] = dims[0] * (hsize_t)r / (hsize_t)nranks;
    count[0] = dims[0] * (hsize_t)(r + 1) / (hsize_t)nranks - start[0];
    start[1] = start[2] = 0;
    count[1] = dims[1];
    count[2] = dims[2];
}

/* Collective write of this rank's slab: the filtered dataset d->name, or (filtered == 0) its
 * contiguous unfiltered reference orig_u16 / orig_f32. */
static void write_collective(hid_t file, const dset_spec *d, int filtered) {
    hid_t fspace = H5Screate_simple(3, d->dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER), mspace, dset;
    hsize_t start[3], count[3];
    size_t plane = (size_t)(d->dims[1] * d->dims[2]);
    H5D_mpio_actual_io_mode_t iomode = H5D_MPIO_NO_COLLECTIVE;
    uint32_t local_cause = 0, global_cause = 0;
    char name[64];
    if (filtered)
        snprintf(name, sizeof name, "%s", d->name);
    else
        snprintf(name, sizeof name, "orig_%s", d->esize == 2 ? "u16" : "f32");
    if (filtered) {
        CHECK_H5(H5Pset_chunk(dcpl, 3, d->chunk));
        CHECK_H5(H5Pset_filter(dcpl, FILTER_ID, H5Z_FLAG_MANDATORY, d->ncd, d->cd));
    }
    dset = H5Dcreate2(file, name, d->ftype, fspace, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(dset >= 0, "H5Dcreate2(%s) failed (plugin not found? HDF5_PLUGIN_PATH=%s)", name,
          getenv("HDF5_PLUGIN_PATH") ? getenv("HDF5_PLUGIN_PATH") : "(unset)");
    if (dset >= 0) {
        slab(d->dims, rank, start, count);
        mspace = H5Screate_simple(3, count, NULL);
        CHECK_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
        CHECK_H5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
        CHECK_H5(H5Dwrite(dset, d->mtype, mspace, fspace, dxpl,
                          (const char *)d->data + (size_t)start[0] * plane * d->esize));
        CHECK_H5(H5Pget_mpio_actual_io_mode(dxpl, &iomode));
        CHECK_H5(H5Pget_mpio_no_collective_cause(dxpl, &local_cause, &global_cause));
        CHECK(iomode != H5D_MPIO_NO_COLLECTIVE && global_cause == H5D_MPIO_COLLECTIVE,
              "%s: write was not collective (io mode %d, cause local 0x%x global 0x%x)", name,
              (int)iomode, local_cause, global_cause);
        if (rank == 0 && filtered)
            printf("write %-13s rank slabs of %d ranks, collective io mode %s\n", name, nranks,
                   iomode == H5D_MPIO_CHUNK_COLLECTIVE   ? "chunk-collective"
                   : iomode == H5D_MPIO_CONTIGUOUS_COLLECTIVE ? "contiguous-collective"
                   : iomode == H5D_MPIO_CHUNK_MIXED      ? "chunk-mixed"
                                                         : "independent");
        H5Sclose(mspace);
        CHECK_H5(H5Dclose(dset));
    }
    H5Pclose(dxpl);
    H5Pclose(dcpl);
    H5Sclose(fspace);
}

/* Pipeline, chunk storage and parallel read-back checks of one filtered dataset. */
static void verify(hid_t file, const dset_spec *d) {
    hid_t dset = H5Dopen2(file, d->name, H5P_DEFAULT), dcpl, fspace, mspace, dxpl, mtype;
    unsigned flags = 0, cd[16] = {0}, fmask = 1;
    size_t ncd = 16, i, n, plane = (size_t)(d->dims[1] * d->dims[2]), bad = 0;
    char fname[128] = "";
    H5Z_filter_t id;
    hsize_t nchunks = 0, c, start[3], count[3], off[3], csize = 0, total = 0;
    haddr_t addr;
    unsigned long long raw_bytes;
    double maxerr = 0, gmax = 0;
    unsigned char *back;
    const unsigned char *want;
    unsigned long long gbad = 0, lbad;
    int r;
    CHECK(dset >= 0, "H5Dopen2(%s)", d->name);
    if (dset < 0) return;

    dcpl = H5Dget_create_plist(dset);
    CHECK(H5Pget_nfilters(dcpl) == 1, "%s: %d filters", d->name, H5Pget_nfilters(dcpl));
    id = H5Pget_filter2(dcpl, 0, &flags, &ncd, cd, sizeof fname, fname, NULL);
    CHECK(id == FILTER_ID, "%s: filter 0 is %d", d->name, (int)id);
    CHECK(ncd >= 1 && cd[0] == d->cd[0], "%s: stored cd_values[0] = %u (n=%zu)", d->name, cd[0],
          ncd);
    if (d->cd[0] == 1)
        CHECK(ncd >= 3 && cd[1] == d->cd[1] && cd[2] == d->cd[2], "%s: stored cd %u,%u,%u",
              d->name, cd[0], cd[1], cd[2]);
    H5Pclose(dcpl);

    /* Every chunk stored filtered; the chunks together smaller than the raw data. */
    fspace = H5Dget_space(dset);
    CHECK_H5(H5Dget_num_chunks(dset, fspace, &nchunks));
    for (c = 0; c < nchunks; c++) {
        hsize_t s = 0;
        CHECK_H5(H5Dget_chunk_info(dset, fspace, c, off, &fmask, &addr, &s));
        CHECK(fmask == 0, "%s: chunk %llu stored with filter mask %u (filter skipped)", d->name,
              (unsigned long long)c, fmask);
        CHECK_H5(H5Dget_chunk_storage_size(dset, off, &csize));
        CHECK(csize == s && s > 0, "%s: chunk %llu size %llu vs %llu", d->name,
              (unsigned long long)c, (unsigned long long)csize, (unsigned long long)s);
        total += s;
    }
    n = (size_t)(d->dims[0] * plane);
    raw_bytes = (unsigned long long)(n * d->esize);
    {
        hsize_t expect = 1;
        for (i = 0; i < 3; i++) expect *= (d->dims[i] + d->chunk[i] - 1) / d->chunk[i];
        CHECK(nchunks == expect, "%s: %llu chunks stored, %llu expected", d->name,
              (unsigned long long)nchunks, (unsigned long long)expect);
    }
    CHECK(total > 0 && total < raw_bytes, "%s: chunks hold %llu bytes, raw data %llu bytes",
          d->name, (unsigned long long)total, raw_bytes);

    /* Collective parallel read of the slab written by the next rank. */
    r = (rank + 1) % nranks;
    slab(d->dims, r, start, count);
    mspace = H5Screate_simple(3, count, NULL);
    CHECK_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
    dxpl = H5Pcreate(H5P_DATASET_XFER);
    CHECK_H5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
    n = (size_t)(count[0] * plane);
    back = xmalloc(n * d->esize);
    mtype = d->mtype;
    CHECK_H5(H5Dread(dset, mtype, mspace, fspace, dxpl, back));
    want = (const unsigned char *)d->data + (size_t)start[0] * plane * d->esize;
    if (d->bound == 0) {
        for (i = 0; i < n; i++)
            if (memcmp(back + i * d->esize, want + i * d->esize, d->esize) != 0) bad++;
    } else {
        for (i = 0; i < n; i++) {
            double a, b, e;
            if (d->esize == 2) {
                unsigned short x, y;
                memcpy(&x, want + 2 * i, 2), memcpy(&y, back + 2 * i, 2);
                a = x, b = y;
            } else {
                float x, y;
                memcpy(&x, want + 4 * i, 4), memcpy(&y, back + 4 * i, 4);
                a = x, b = y;
            }
            e = fabs(a - b);
            if (!(e <= d->bound)) bad++;
            if (e > maxerr) maxerr = e;
        }
    }
    lbad = bad;
    MPI_Allreduce(&lbad, &gbad, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&maxerr, &gmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    CHECK(bad == 0, "%s: %zu of %zu elements read back by rank %d (slab of rank %d) %s", d->name,
          bad, n, rank, r, d->bound == 0 ? "differ (lossless)" : "exceed the bound");
    if (rank == 0)
        printf("%s %-13s %s chunks %llu: %llu -> %llu bytes (ratio %.2f), parallel read "
               "max |x-x'| = %g (bound %g), %llu elements out of bound\n",
               gbad == 0 ? "PASS" : "FAIL", d->name, fname, (unsigned long long)nchunks,
               raw_bytes, (unsigned long long)total, (double)raw_bytes / (double)(total ? total : 1),
               gmax, d->bound, gbad);
    free(back);
    H5Pclose(dxpl);
    H5Sclose(mspace);
    H5Sclose(fspace);
    H5Dclose(dset);
}

int main(int argc, char **argv) {
    static const hsize_t chunk_u16[3] = {16, 32, 32}, chunk_f32[3] = {8, 64, 64};
    hsize_t dims_u16[3] = {93, 64, 64}, dims_f32[3] = {93, 64, 64};
    unsigned short *u16 = NULL;
    float *f32 = NULL;
    hid_t fapl, file;
    int gfails = 0, avail, real_u16, real_f32;
    size_t i;
    unsigned majnum, minnum, relnum;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (argc < 2) {
        if (rank == 0) fprintf(stderr, "usage: mpirun -np N %s OUT.h5 [U16.npy] [F32.npy]\n", argv[0]);
        MPI_Finalize();
        return 2;
    }
    u16 = load_npy(argc > 2 ? argv[2] : NULL, "<u2", 2, dims_u16);
    f32 = load_npy(argc > 3 ? argv[3] : NULL, "<f4", 4, dims_f32);
    real_u16 = u16 != NULL, real_f32 = f32 != NULL;
    if (!u16 || !f32) {
        unsigned short *su;
        float *sf;
        hsize_t sd[3] = {93, 64, 64};
        synth(sd, &su, &sf);
        if (!u16) u16 = su, memcpy(dims_u16, sd, sizeof sd);
        else free(su);
        if (!f32) f32 = sf, memcpy(dims_f32, sd, sizeof sd);
        else free(sf);
    }
    H5get_libversion(&majnum, &minnum, &relnum);
    if (rank == 0) {
        printf("HDF5 %u.%u.%u (parallel), %d MPI ranks\n", majnum, minnum, relnum, nranks);
        printf("uint16 input: %s (%llu,%llu,%llu)\n",
               real_u16 ? argv[2] : "!!!!! SYNTHETIC (real data absent) !!!!!",
               (unsigned long long)dims_u16[0], (unsigned long long)dims_u16[1],
               (unsigned long long)dims_u16[2]);
        printf("float32 input: %s (%llu,%llu,%llu)\n",
               real_f32 ? argv[3] : "!!!!! SYNTHETIC (real data absent) !!!!!",
               (unsigned long long)dims_f32[0], (unsigned long long)dims_f32[1],
               (unsigned long long)dims_f32[2]);
    }
    for (i = 0; i < (size_t)(dims_f32[0] * dims_f32[1] * dims_f32[2]); i++)
        CHECK(isfinite(f32[i]), "non-finite input");

    avail = H5Zfilter_avail(FILTER_ID);
    CHECK(avail > 0, "filter %d not available (HDF5_PLUGIN_PATH=%s)", FILTER_ID,
          getenv("HDF5_PLUGIN_PATH") ? getenv("HDF5_PLUGIN_PATH") : "(unset)");

    {
        /* abs bounds: u16 4 (cd 1,4,0); f32 0.005 (cd 1,5,3); lossless cd 0. */
        dset_spec specs[4] = {
            {"u16_abs4", H5T_STD_U16LE, H5T_NATIVE_USHORT, 2, u16, dims_u16, chunk_u16, 3, {1, 4, 0}, 4},
            {"u16_lossless", H5T_STD_U16LE, H5T_NATIVE_USHORT, 2, u16, dims_u16, chunk_u16, 1, {0}, 0},
            {"f32_abs", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, f32, dims_f32, chunk_f32, 3, {1, 5, 3}, 0.005},
            {"f32_lossless", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, f32, dims_f32, chunk_f32, 1, {0}, 0},
        };
        double t0, t1, t2;
        fapl = H5Pcreate(H5P_FILE_ACCESS);
        CHECK_H5(H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL));
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        file = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        CHECK(file >= 0, "H5Fcreate(%s)", argv[1]);
        if (file >= 0) {
            for (i = 0; i < 4; i++) write_collective(file, &specs[i], 1);
            write_collective(file, &specs[0], 0); /* orig_u16: unfiltered reference */
            write_collective(file, &specs[2], 0); /* orig_f32 */
            CHECK_H5(H5Fclose(file));
        }
        MPI_Barrier(MPI_COMM_WORLD);
        t1 = MPI_Wtime();
        file = H5Fopen(argv[1], H5F_ACC_RDONLY, fapl);
        CHECK(file >= 0, "H5Fopen(%s)", argv[1]);
        if (file >= 0) {
            for (i = 0; i < 4; i++) verify(file, &specs[i]);
            CHECK_H5(H5Fclose(file));
        }
        MPI_Barrier(MPI_COMM_WORLD);
        t2 = MPI_Wtime();
        H5Pclose(fapl);
        if (rank == 0) printf("wall time: write %.2f s, verify %.2f s\n", t1 - t0, t2 - t1);
    }

    MPI_Allreduce(&fails, &gfails, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) {
        if (gfails == 0)
            printf("mpi_filter: OK (%d ranks)\n", nranks);
        else
            printf("mpi_filter: FAILED (%d checks failed over %d ranks)\n", gfails, nranks);
    }
    free(u16);
    free(f32);
    MPI_Finalize();
    return gfails == 0 ? 0 : 1;
}
