// SPDX-License-Identifier: MIT
#include "read_buffer.hpp"

#include <memory>

namespace mcp::detail {
namespace {

struct ThreadBuffer {
  std::unique_ptr<char[]> block;  // taken at the thread's first read, freed at its exit
  bool in_use = false;
};
thread_local ThreadBuffer tl_buffer;

}  // namespace

ReadBuffer::ReadBuffer() {
  ThreadBuffer& t = tl_buffer;
  lent_ = !t.in_use;
  if (lent_) {
    if (!t.block) t.block.reset(new char[kSize]);
    t.in_use = true;
    data_ = t.block.get();
  } else {
    data_ = new char[kSize];
  }
}

ReadBuffer::~ReadBuffer() {
  if (lent_) tl_buffer.in_use = false;
  else delete[] data_;
}

}  // namespace mcp::detail
