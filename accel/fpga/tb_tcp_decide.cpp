// C-simulation testbench: g++ -std=c++17 -O2 tb_tcp_decide.cpp tcp_decide.cpp -o tb
// (tests/accel also builds it with -fsanitize=address,undefined: no read past the beats)
//   ./tb IN.bin OUT_STREAM.bin OUT_MM.bin
// IN.bin holds N x 24 descriptor bytes; both outputs hold N packed result bytes, one through
// the AXI-stream top function and one through the memory-mapped wrapper. tests/accel compares
// them byte for byte with tcplab.accel's numpy oracle. Exit status 0 on success.
#include <cstdio>
#include <cstring>
#include <vector>

#include "tcp_decide.h"

static bool read_all(const char* path, std::vector<uint8_t>& buf) {
    FILE* f = std::fopen(path, "rb");
    if (!f) return false;
    uint8_t chunk[65536];
    size_t got;
    while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) buf.insert(buf.end(), chunk, chunk + got);
    std::fclose(f);
    return true;
}

static bool write_all(const char* path, const std::vector<uint8_t>& buf) {
    FILE* f = std::fopen(path, "wb");
    if (!f) return false;
    bool ok = buf.empty() || std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
    return std::fclose(f) == 0 && ok;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s IN.bin OUT_STREAM.bin OUT_MM.bin\n", argv[0]);
        return 2;
    }
    std::vector<uint8_t> raw;
    if (!read_all(argv[1], raw) || raw.size() % 24) {
        std::fprintf(stderr, "cannot read %s as N x 24 bytes\n", argv[1]);
        return 2;
    }
    const uint32_t n = (uint32_t)(raw.size() / 24);
    std::vector<uint64_t> words(3 * (size_t)n);
    if (n) std::memcpy(words.data(), raw.data(), raw.size());  // little-endian host assumed

    hls::stream<Desc> in;
    hls::stream<uint8_t> out;
    for (uint32_t i = 0; i < n; ++i) {
        Desc d;
        d.w[0] = words[3 * i];
        d.w[1] = words[3 * i + 1];
        d.w[2] = words[3 * i + 2];
        in.write(d);
    }
    tcp_decide(in, out, n);
    std::vector<uint8_t> via_stream(n), via_mm(n);
    for (uint32_t i = 0; i < n; ++i) via_stream[i] = out.read();
    if (!in.empty() || !out.empty()) {
        std::fprintf(stderr, "streams not drained\n");
        return 1;
    }
    // the memory-mapped wrapper reads whole 64-byte beats: pad the copy to a multiple of 64
    std::vector<Beat> beats(((size_t)n * 24 + 63) / 64);
    if (n) {
        std::memset(beats.data(), 0xA5, beats.size() * sizeof(Beat));  // padding: never decided
        std::memcpy(beats.data(), raw.data(), raw.size());
    }
    tcp_decide_mm(beats.data(), via_mm.data(), n);
    if (!write_all(argv[2], via_stream) || !write_all(argv[3], via_mm)) {
        std::fprintf(stderr, "cannot write the outputs\n");
        return 2;
    }
    std::printf("decided %u descriptors\n", n);
    return 0;
}
