// SPDX-License-Identifier: MIT
#pragma once
// The buffer a transport reads into: the calling thread's own, lent for one read loop.
//
// A 64 KiB block taken from malloc and freed again on every exchange costs more than it
// looks: glibc answers the free of a chunk that large by consolidating all its fastbins, and
// the next small allocations then miss them. One block per thread, reused, costs nothing per
// read. It is uninitialised, so only the pages a large message touches become resident.
//
// A read nested inside a callback of another read on the same thread (which our transports
// avoid, but nothing forbids) gets a heap block of its own instead of the lent one.
#include <cstddef>

namespace mcp::detail {

class ReadBuffer {
 public:
  static constexpr std::size_t kSize = 64 * 1024;
  ReadBuffer();
  ~ReadBuffer();
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
  [[nodiscard]] char* data() const { return data_; }

 private:
  char* data_;
  bool lent_;  // the thread's own block (else a heap block of this object's)
};

}  // namespace mcp::detail
