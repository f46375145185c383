// SPDX-License-Identifier: MIT
// The modern listener: a thread that keeps one `subscriptions/listen` open while
// ClientHandlers::on_change is set, re-listening (with backoff) after reconnects and new filters.
#include "session_impl.hpp"

#include "../util/backoff.hpp"

namespace mcp {

using nlohmann::json;

json Session::Impl::listen_filter(const ServerInfo& si) {
  json f = json::object();
  const json& caps = si.capabilities;
  auto flag = [&](const char* cap) {
    return caps.contains(cap) && caps[cap].is_object() && caps[cap].value("listChanged", false) == true;
  };
  if (flag("tools")) f["toolsListChanged"] = true;
  if (flag("prompts")) f["promptsListChanged"] = true;
  if (flag("resources")) f["resourcesListChanged"] = true;
  std::lock_guard lk(mutex);
  if (!listener.resource_subscriptions.empty()) f["resourceSubscriptions"] = listener.resource_subscriptions;
  return f;
}

void Session::Impl::start_listener_locked() {
  if (!client.handlers.on_change || listener.thread.joinable()) return;
  const std::uint64_t mine = ++listener.gen;
  listener.thread = std::thread([this, mine] { listen_loop(mine); });
}

void Session::Impl::listen_loop(std::uint64_t mine) {
  detail::Backoff backoff(std::chrono::milliseconds(500), std::chrono::milliseconds(30000));
  auto stopped = [&] { return listener.gen != mine; };  // under `mutex`
  for (;;) {
    {
      std::lock_guard lk(mutex);
      if (stopped()) return;
    }
    auto conn = ensure({});
    bool ok = false;
    if (conn && conn->second->era == Era::modern) {
      const auto eng = conn->first;
      const ServerInfo& si = *conn->second;
      json filter = listen_filter(si);
      std::stop_source cancel;
      if (!filter.empty()) {
        json params{{"_meta", meta.build(si.protocol_version)}, {"notifications", filter}};
        auto p = eng->send_request("subscriptions/listen", std::move(params), Clock::now() + std::chrono::hours(24));
        if (p) {
          {
            std::lock_guard lk(mutex);
            if (stopped()) {
              eng->abandon(*p);
              return;
            }
            listener.cancel = cancel;
            listener.id = (*p)->id;
          }
          auto r = eng->wait(*p, Clock::now() + std::chrono::hours(24), cancel.get_token());
          {
            std::lock_guard lk(mutex);
            listener.cancel.reset();
            listener.id = json();
          }
          // A result is a graceful end; cancelled means we asked (stop, or a new filter).
          ok = r || r.error().errc() == Errc::cancelled;
          if (!r && r.error().errc() != Errc::cancelled && r.error().errc() != Errc::disconnected)
            diagnostic("subscriptions/listen ended: " + r.error().message, "subscriptions/listen");
        }
      } else {
        ok = true;  // nothing to listen for yet: wait for a subscription or stop
        std::unique_lock lk(mutex);
        listener.cv.wait(lk, [&] { return stopped() || !listener.resource_subscriptions.empty(); });
        continue;
      }
    } else if (conn) {
      return;  // legacy servers send their notifications unsolicited
    }
    std::unique_lock lk(mutex);
    if (stopped()) return;
    if (ok) {
      backoff.reset();
      continue;
    }
    listener.cv.wait_for(lk, backoff.delay(), [&] { return stopped(); });
    backoff.grow();
  }
}

bool Session::Impl::is_current_subscription(const json& id) const {
  std::lock_guard lk(mutex);
  return id == listener.id;
}

Result<void> Session::Impl::subscribe_modern(const std::string& uri) {
  // A subscriptions/listen filter entry; the listener re-listens with it.
  if (!client.handlers.on_change)
    return fail(Errc::invalid_config, "resource updates need ClientHandlers::on_change", name);
  std::lock_guard lk(mutex);
  listener.resource_subscriptions.insert(uri);
  if (listener.cancel) listener.cancel->request_stop();
  listener.cv.notify_all();
  return {};
}

void Session::Impl::unsubscribe_modern(const std::string& uri) {
  std::lock_guard lk(mutex);
  if (listener.resource_subscriptions.erase(uri) && listener.cancel) listener.cancel->request_stop();
}

std::thread Session::Impl::stop_listener_locked() {
  ++listener.gen;
  if (listener.cancel) listener.cancel->request_stop();
  std::thread t;
  t.swap(listener.thread);
  return t;
}

void Session::Impl::join_listener(std::thread& t) {
  if (!t.joinable()) return;
  if (t.get_id() == std::this_thread::get_id()) t.detach();  // disconnect() from on_change
  else t.join();
}

}  // namespace mcp
