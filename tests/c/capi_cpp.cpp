// The header from C++: extern "C" linkage, the typed status enum, a round trip with std::vector.
#include "h5z_apr.h"

#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

static_assert(std::is_same<std::underlying_type<h5z_apr_status>::type, int32_t>::value,
              "h5z_apr_status is a 32-bit enum in C++");
static_assert(sizeof(h5z_apr_params) == 24, "h5z_apr_params layout (int, double, int)");

int main() {
    const size_t shape[2] = {30, 40};
    std::vector<int16_t> image(30 * 40);
    for (size_t i = 0; i < image.size(); i++) image[i] = static_cast<int16_t>(i % 97) - 48;
    // This host is little-endian (checked below), so int16_t bytes are the codec's layout.
    const uint16_t one = 1;
    if (*reinterpret_cast<const unsigned char *>(&one) != 1) {
        std::printf("ALL OK 0 (big-endian host: skipped)\n");
        return 0;
    }
    h5z_apr_params params = {H5Z_APR_MODE_LOSSLESS, 0.0, 0};
    std::vector<unsigned char> stream(h5z_apr_max_compressed_size(H5Z_APR_DTYPE_I16, shape, 2));
    size_t len = 0;
    h5z_apr_status st = h5z_apr_compress(&params, H5Z_APR_DTYPE_I16, shape, 2, image.data(),
                                         image.size() * 2, stream.data(), stream.size(), &len);
    if (st != H5Z_APR_OK) {
        std::fprintf(stderr, "compress: %s: %s\n", h5z_apr_status_name(st), h5z_apr_last_error());
        return 1;
    }
    h5z_apr_info info;
    std::vector<int16_t> back(image.size());
    st = h5z_apr_read_header(stream.data(), len, &info);
    if (st == H5Z_APR_OK) st = h5z_apr_decompress(stream.data(), len, back.data(), info.nbytes, nullptr);
    if (st != H5Z_APR_OK || back != image || info.rank != 2 || info.shape[1] != 40) {
        std::fprintf(stderr, "round trip: %s: %s\n", h5z_apr_status_name(st), h5z_apr_last_error());
        return 1;
    }
    std::vector<unsigned char> truncated(stream.begin(), stream.begin() + 10);
    st = h5z_apr_decompress(truncated.data(), truncated.size(), back.data(), info.nbytes, nullptr);
    if (st != H5Z_APR_ERR_TRUNCATED) {
        std::fprintf(stderr, "truncated stream gave %s\n", h5z_apr_status_name(st));
        return 1;
    }
    std::printf("C++: %zu bytes -> %zu bytes\nALL OK 4\n", image.size() * 2, len);
    return 0;
}
