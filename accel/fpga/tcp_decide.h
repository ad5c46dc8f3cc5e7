// TCP v2 batch decisions as a Vitis HLS kernel (plain C++, fixed-width integer types).
//
// One descriptor = 24 bytes = three little-endian 64-bit words (the host's N x 24 uint8 array
// read as uint64). One result = one byte: reason | (risk + 1) << 3 | decision << 6, the same
// packing as tcplab.accel.pack(). See docs/accelerators.md.
#ifndef TCP_DECIDE_H
#define TCP_DECIDE_H

#include <stdint.h>

#if defined(__SYNTHESIS__) || defined(TCP_WITH_HLS_HEADERS)
#include <hls_stream.h>
#else
#include "hls_stream_sim.h"  // a std::deque stand-in for g++ C simulation without Vitis
#endif

struct Desc {
    uint64_t w[3];  // bytes 0-7, 8-15, 16-23 (little-endian words)
};

// One 512-bit memory beat: 8 little-endian words. 8 descriptors (24 words) fill 3 beats.
struct Beat {
    uint64_t w[8];
};

// The core, one descriptor per call; pipelined at II=1 inside the stream loop.
uint8_t tcp_decide_one(uint64_t w0, uint64_t w1, uint64_t w2);

// Top function, AXI4-Stream in and out: one 192-bit descriptor beat per clock (II=1).
void tcp_decide(hls::stream<Desc>& in, hls::stream<uint8_t>& out, uint32_t n);

// Memory-mapped wrapper run by the XRT host path (tcplab.accel fpga backend):
// in = the n x 24 descriptor bytes as 512-bit beats (the buffer padded to a multiple of 64
// bytes), out = n packed result bytes. One descriptor per clock: see load_beats().
void tcp_decide_mm(const Beat* in, uint8_t* out, uint32_t n);

#endif
