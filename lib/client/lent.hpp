// SPDX-License-Identifier: MIT
#pragma once
// Lent<T, Tag>: the calling thread's T, lent for one use and kept from one use to the next
// with its capacity, so that what a call builds on its thread (a request's text, its header
// fields) costs no allocation once grown. A use nested in another on the same thread (a
// callback making a request) gets a T of its own. Tag says which of the thread's Ts, and
// what is let go of after each use: Tag::shed(T&).
#include <cstddef>
#include <optional>
#include <string>

namespace mcp::detail {

// What a thread keeps of a lent buffer between uses: one large message sent once does not
// pin its size for the thread's life.
inline constexpr std::size_t kLentKeep = 64 * 1024;

// A Tag's shed for text.
struct LentText {
  static void shed(std::string& s) {
    if (s.capacity() > kLentKeep) std::string().swap(s);
  }
};

template <class T, class Tag>
class Lent {
 public:
  Lent() : slot_(slot()) {
    if (slot_.in_use) {
      own_.emplace();
      p_ = &*own_;
    } else {
      slot_.in_use = true;
      p_ = &slot_.value;
    }
  }
  ~Lent() {
    if (own_) return;
    Tag::shed(slot_.value);
    slot_.in_use = false;
  }
  Lent(const Lent&) = delete;
  Lent& operator=(const Lent&) = delete;
  T& operator*() const { return *p_; }
  T* operator->() const { return p_; }

 private:
  struct Slot {
    T value;
    bool in_use = false;
  };
  static Slot& slot() {
    thread_local Slot s;
    return s;
  }
  Slot& slot_;
  std::optional<T> own_;
  T* p_;
};

}  // namespace mcp::detail
