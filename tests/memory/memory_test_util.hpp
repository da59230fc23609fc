// Shared helpers for the memory-transfer tests: page-aligned buffers with
// known contents and connected channel pairs.
#pragma once

#include <sys/mman.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>

#include "statewire/channel.hpp"
#include "statewire/memory_region.hpp"

namespace statewire::testing {

// Anonymous page-aligned memory, unmapped on destruction.
class PageBuffer {
 public:
  explicit PageBuffer(std::size_t bytes) : size_(bytes) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) std::abort();
    data_ = static_cast<std::uint8_t*>(p);
  }
  ~PageBuffer() { ::munmap(data_, size_); }
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool same_as(const PageBuffer& o) const {
    return size_ == o.size_ && std::memcmp(data_, o.data_, size_) == 0;
  }

 private:
  std::uint8_t* data_;
  std::size_t size_;
};

// Random bytes, except every `zero_every`-th page (when not 0) left all zero.
inline void fill_random(PageBuffer& b, std::uint64_t seed, std::size_t zero_every = 0,
                        std::size_t page = 4096) {
  std::mt19937_64 rng(seed);
  for (std::size_t at = 0; at < b.size(); at += 8) {
    const std::uint64_t v = rng();
    std::memcpy(b.data() + at, &v, 8);
  }
  if (zero_every)
    for (std::size_t p = 0; p * page < b.size(); p += zero_every) std::memset(b.data() + p * page, 0, page);
}

// Text-like bytes that compress well: whole words in random order.
inline void fill_compressible(PageBuffer& b, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  static const std::string words[] = {"state ", "wire ", "page ", "round ", "dirty ", "region "};
  std::size_t at = 0;
  while (at < b.size()) {
    const std::string& w = words[rng() % 6];
    const std::size_t n = std::min(w.size(), b.size() - at);
    std::memcpy(b.data() + at, w.data(), n);
    at += n;
  }
}

inline std::pair<Channel, Channel> channel_pair(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  auto a = Channel::adopt(fds[0], "socketpair:send");
  auto b = Channel::adopt(fds[1], "socketpair:receive");
  a.set_timeout(timeout);
  b.set_timeout(timeout);
  return {std::move(a), std::move(b)};
}

inline RegionSet one_region(const PageBuffer& b, std::string name = "ram") {
  RegionSet s;
  auto id = s.add({std::move(name), b.data(), b.size(), 4096});
  if (!id) std::abort();
  return s;
}

}  // namespace statewire::testing
