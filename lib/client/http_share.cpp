// SPDX-License-Identifier: MIT
// HttpConnectionShare: the OriginSlots of every connection key its clients use (what a slot
// and its line are: http_slots.cpp), and the one thread that closes connections left idle.
#include "http_transport_impl.hpp"

#include <mcp/http_connections.hpp>

#include <algorithm>
#include <iterator>
#include <thread>

namespace mcp {

struct HttpConnectionShare::Impl {
  explicit Impl(HttpConnectionShareOptions o) : options(o) {}
  ~Impl() {
    {
      std::lock_guard lk(m);
      stopping = true;
    }
    cv.notify_all();
    if (sweeper.joinable()) sweeper.join();
    // Every client of the share is gone (each held it): nothing uses these connections.
  }
  // Closes the connections idle for longer than the idle timeout, and forgets the keys no
  // transport uses any more and that hold nothing. The connections close outside the locks.
  void sweep() {
    std::vector<detail::IdleConn> expired;
    {
      std::lock_guard lk(m);
      const auto now = detail::Clock::now();
      for (auto it = origins.begin(); it != origins.end();) {
        auto& s = *it->second;
        bool empty;
        {
          std::lock_guard slk(s.m);
          // The oldest first (the last released is used first: see OriginSlots::idle).
          std::size_t n = 0;
          while (n < s.idle.size() && now - s.idle[n].since >= s.idle_timeout) ++n;
          std::move(s.idle.begin(), s.idle.begin() + static_cast<std::ptrdiff_t>(n), std::back_inserter(expired));
          s.idle.erase(s.idle.begin(), s.idle.begin() + static_cast<std::ptrdiff_t>(n));
          empty = s.idle.empty() && s.busy == 0 && s.connecting == 0 && s.queue.empty() && s.connect_queue.empty();
        }
        if (empty && it->second.use_count() == 1) {
          retired_opened += it->second->opened;
          it = origins.erase(it);
        } else {
          ++it;
        }
      }
      closed_idle += expired.size();
    }
    expired.clear();
  }
  void sweep_loop() {
    // Often enough that a connection outlives its idle time by at most a quarter of it.
    const auto every = std::clamp<detail::Clock::duration>(options.idle_timeout / 4, std::chrono::milliseconds(10),
                                                           std::chrono::seconds(1));
    std::unique_lock lk(m);
    while (!stopping) {
      cv.wait_for(lk, every, [&] { return stopping; });
      if (stopping) return;
      lk.unlock();
      sweep();
      lk.lock();
    }
  }

  HttpConnectionShareOptions options;
  mutable std::mutex m;  // before an OriginSlots' mutex when both are held; guards what follows
  std::map<std::string, std::shared_ptr<detail::OriginSlots>> origins;
  std::uint64_t closed_idle = 0;
  std::uint64_t retired_opened = 0;  // `opened` of the keys forgotten
  bool stopping = false;
  std::condition_variable cv;
  std::thread sweeper;  // started with the first key
};

HttpConnectionShare::HttpConnectionShare(HttpConnectionShareOptions options) {
  options.max_connections = std::max<std::size_t>(1, options.max_connections);
  options.max_connecting = std::max<std::size_t>(1, options.max_connecting);
  options.idle_timeout = std::max(options.idle_timeout, std::chrono::milliseconds(1));
  impl_ = std::make_unique<Impl>(options);
}

HttpConnectionShare::~HttpConnectionShare() = default;

std::shared_ptr<HttpConnectionShare> HttpConnectionShare::create(HttpConnectionShareOptions options) {
  return std::shared_ptr<HttpConnectionShare>(new HttpConnectionShare(options));
}

const HttpConnectionShareOptions& HttpConnectionShare::options() const noexcept { return impl_->options; }

HttpConnectionShareStats HttpConnectionShare::stats() const {
  HttpConnectionShareStats st;
  std::lock_guard lk(impl_->m);
  st.origins = impl_->origins.size();
  st.closed_idle = impl_->closed_idle;
  st.opened = impl_->retired_opened;
  for (const auto& [key, s] : impl_->origins) {
    std::lock_guard slk(s->m);
    st.in_use += s->busy;
    st.idle += s->idle.size();
    st.waiting += s->queue.size();
    st.opened += s->opened;
  }
  return st;
}

namespace detail {

std::shared_ptr<OriginSlots> ShareAccess::slots(HttpConnectionShare& share, const Url& url, const HttpServerConfig& cfg) {
  // Everything that makes one connection differ from another: the origin, and for https what
  // the TLS handshake trusts (a setting added to HttpServerConfig that changes connections, a
  // client certificate or a proxy, belongs here too). '\n' cannot occur in a parsed URL's host.
  std::string key = url.scheme + "\n" + url.host + "\n" + std::to_string(url.port);
  if (url.scheme == "https")
    key += std::string("\n") + (cfg.verify_tls ? "verify" : "no-verify") + "\n" + std::to_string(cfg.ca_file.size()) +
           ":" + cfg.ca_file + "\n" + std::to_string(cfg.ca_dir.size()) + ":" + cfg.ca_dir;
  auto& impl = *share.impl_;
  std::lock_guard lk(impl.m);
  auto& s = impl.origins[key];
  if (!s)
    s = std::make_shared<OriginSlots>(impl.options.max_connections, impl.options.max_connecting, true,
                                      std::chrono::duration_cast<Clock::duration>(impl.options.idle_timeout));
  if (!impl.sweeper.joinable()) impl.sweeper = std::thread([&impl] { impl.sweep_loop(); });
  return s;
}

}  // namespace detail

}  // namespace mcp
