// Minimal stand-in for Vitis HLS's hls::stream, for C simulation with plain g++ only.
// Under Vitis HLS (__SYNTHESIS__ or TCP_WITH_HLS_HEADERS) the real <hls_stream.h> is used.
#ifndef TCP_HLS_STREAM_SIM_H
#define TCP_HLS_STREAM_SIM_H

#include <deque>
#include <stdexcept>

namespace hls {
template <typename T>
class stream {
  public:
    stream() {}
    explicit stream(const char*) {}
    void write(const T& v) { q_.push_back(v); }
    T read() {
        if (q_.empty()) throw std::runtime_error("hls::stream read from an empty stream");
        T v = q_.front();
        q_.pop_front();
        return v;
    }
    bool empty() const { return q_.empty(); }
    size_t size() const { return q_.size(); }

  private:
    std::deque<T> q_;
};
}  // namespace hls

#endif
