// TCP v2 batch decisions: the HLS kernel (see tcp_decide.h and docs/accelerators.md).
//
// Constructs kept to what Vitis HLS synthesises: fixed-width integers, fixed-bound loops
// (fully unrolled), constant ROM tables partitioned so that all 16 look-ups of one descriptor
// happen in the same clock, no dynamic memory, no recursion, no pointers other than the
// m_axi ports. Checks, order and result packing are those of tcplab.accel's numpy oracle;
// tests/accel compiles the testbench with g++ and compares every output byte with it.
#include "tcp_decide.h"

#include "tcp_crc_tables.h"

static const uint64_t MAGIC_LE = 0x02504354ull;  // "TCP\x02" read little-endian
static const uint64_t VERSION_LE = 0x0200ull;    // bytes 4-5 = 00 02
// decision codes: 0 APPROVE, 1 CAUTION, 2 REQUIRE_APPROVAL, 3 REJECT, indexed by risk + 1
static const uint8_t DECISION_OF[6] = {2, 0, 0, 1, 2, 3};

static uint8_t highest_risk(uint8_t bits) {
    // the highest of the five risk bits wins; none set is UNKNOWN (-1 -> stored as 0)
    uint8_t level1 = 0;
    for (int b = 0; b < 5; ++b) {
#pragma HLS UNROLL
        if ((bits >> b) & 1u) level1 = (uint8_t)(b + 1);
    }
    return level1;
}

uint8_t tcp_decide_one(uint64_t w0, uint64_t w1, uint64_t w2) {
#pragma HLS INLINE
#pragma HLS ARRAY_PARTITION variable = TCP_CRC_TABLE type = complete dim = 1
    uint8_t reason = 0;
    if ((w0 & 0xFFFFFFFFull) != MAGIC_LE) {
        reason = 2;
    } else if (((w0 >> 32) & 0xFFFFull) != VERSION_LE) {
        reason = 3;
    } else {
        uint16_t c = TCP_CRC_START;
        c ^= TCP_CRC_TABLE[0][(w0 >> 48) & 0xFF];
        c ^= TCP_CRC_TABLE[1][(w0 >> 56) & 0xFF];
        for (int k = 0; k < 8; ++k) {
#pragma HLS UNROLL
            c ^= TCP_CRC_TABLE[2 + k][(w1 >> (8 * k)) & 0xFF];
        }
        for (int k = 0; k < 6; ++k) {
#pragma HLS UNROLL
            c ^= TCP_CRC_TABLE[10 + k][(w2 >> (8 * k)) & 0xFF];
        }
        uint16_t stored = (uint16_t)((((w2 >> 48) & 0xFF) << 8) | ((w2 >> 56) & 0xFF));
        if (c != stored) reason = 4;
    }
    uint8_t level1 = reason == 0 ? highest_risk((uint8_t)((w1 >> 40) & 0x1F)) : 0;
    return (uint8_t)(reason | (level1 << 3) | (DECISION_OF[level1] << 6));
}

void tcp_decide(hls::stream<Desc>& in, hls::stream<uint8_t>& out, uint32_t n) {
#pragma HLS INTERFACE mode = axis port = in
#pragma HLS INTERFACE mode = axis port = out
#pragma HLS INTERFACE mode = s_axilite port = n
#pragma HLS INTERFACE mode = s_axilite port = return
    for (uint32_t i = 0; i < n; ++i) {
#pragma HLS PIPELINE II = 1
        Desc d = in.read();
        out.write(tcp_decide_one(d.w[0], d.w[1], d.w[2]));
    }
}

// Cuts descriptors out of 512-bit beats at one per clock: an 11-word window holds the words
// not yet used; when fewer than 3 remain, one beat (8 words) is read. Over 8 descriptors that
// is 3 reads, at most one per iteration, so the loop keeps II=1.
static void load_beats(const Beat* in, hls::stream<Desc>& s, uint32_t n) {
    uint64_t win[11];  // at most 2 left over + 8 new = 10 words in use
#pragma HLS ARRAY_PARTITION variable = win type = complete
    uint32_t have = 0, next = 0;
    for (uint32_t i = 0; i < n; ++i) {
#pragma HLS PIPELINE II = 1
        if (have < 3) {
            Beat b = in[next++];
            for (int k = 0; k < 8; ++k) {
#pragma HLS UNROLL
                win[have + k] = b.w[k];
            }
            have += 8;
        }
        Desc d;
        d.w[0] = win[0];
        d.w[1] = win[1];
        d.w[2] = win[2];
        s.write(d);
        for (int k = 0; k < 8; ++k) {
#pragma HLS UNROLL
            win[k] = win[k + 3];
        }
        have -= 3;
    }
}

static void store(hls::stream<uint8_t>& s, uint8_t* out, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
#pragma HLS PIPELINE II = 1
        out[i] = s.read();
    }
}

void tcp_decide_mm(const Beat* in, uint8_t* out, uint32_t n) {
#pragma HLS INTERFACE mode = m_axi port = in offset = slave bundle = gmem0 max_widen_bitwidth = 512
#pragma HLS INTERFACE mode = m_axi port = out offset = slave bundle = gmem1 max_widen_bitwidth = 512
#pragma HLS INTERFACE mode = s_axilite port = in
#pragma HLS INTERFACE mode = s_axilite port = out
#pragma HLS INTERFACE mode = s_axilite port = n
#pragma HLS INTERFACE mode = s_axilite port = return
#pragma HLS DATAFLOW
    hls::stream<Desc> descs("descs");
    hls::stream<uint8_t> results("results");
#pragma HLS STREAM variable = descs depth = 64
#pragma HLS STREAM variable = results depth = 64
    load_beats(in, descs, n);
    tcp_decide(descs, results, n);
    store(results, out, n);
}
