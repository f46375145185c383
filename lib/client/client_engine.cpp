// SPDX-License-Identifier: MIT
// The client's JSON-RPC engine (client_engine.hpp): the engine bound to a Transport, and the
// caller-thread fast paths (lead, on_caller_thread).
#include "client_engine.hpp"

namespace mcp::detail {

using json = nlohmann::json;

namespace {

// The request whose waiter is leading on this thread (its own reply needs no interrupt).
thread_local const RpcEngine::Pending* tl_leading = nullptr;

}  // namespace

// One request's message, as the session asked it sent (headers, on the caller's thread ...).
class ClientEngine::TransportWriter final : public RequestWriter {
 public:
  TransportWriter(Transport& t, Clock::time_point deadline, const SendOptions& o)
      : transport_(t), deadline_(deadline), options_(o) {}
  Result<void> write(const json& message) override { return transport_.send(message, deadline_, options_); }

 private:
  Transport& transport_;
  Clock::time_point deadline_;
  const SendOptions& options_;
};

ClientEngine::ClientEngine(std::shared_ptr<Transport> transport, Options options)
    : RpcEngine(std::move(options)), transport_(std::move(transport)) {}

ClientEngine::~ClientEngine() { close(Error::make(Errc::disconnected, "connection closed")); }

Result<void> ClientEngine::start() {
  std::weak_ptr<ClientEngine> weak = std::static_pointer_cast<ClientEngine>(shared_from_this());
  Transport::Callbacks cb;
  // The transport's reader thread holds only weak references: the engine may be destroyed
  // (which joins that thread through Transport::close) at any time.
  cb.on_message = [weak](json&& m) {
    if (auto self = weak.lock()) self->receive(std::move(m));
  };
  cb.on_result = [weak](std::int64_t id, json&& result) {
    if (auto self = weak.lock()) self->receive_result(id, std::move(result));
  };
  cb.on_closed = [weak](const Error& e) {
    if (auto self = weak.lock()) self->channel_closed(e);
  };
  cb.on_request_failed = [weak](const json& id, const Error& e) {
    if (auto self = weak.lock()) self->request_failed(id, e);
  };
  cb.on_request_held = [weak](const json& id, bool held) {
    if (auto self = weak.lock()) self->request_held(id, held);
  };
  cb.on_diagnostic = [weak](std::string_view d, const DiagnosticAbout& about) {
    if (auto self = weak.lock()) self->diagnose_reply(d, about);
  };
  started_ = true;
  auto r = transport_->start(std::move(cb));
  if (!r) {
    refuse();
    return fail(decorate(r.error()));
  }
  return {};
}

Result<std::shared_ptr<RpcEngine::Pending>> ClientEngine::send_request(const std::string& method, json params,
                                                                        Clock::time_point deadline,
                                                                        const SendOptions& send_options,
                                                                        ProgressOptions progress) {
  TransportWriter writer(*transport_, deadline, send_options);
  return send_lent(method, params, deadline, std::move(progress), writer);
}

Result<std::shared_ptr<RpcEngine::Pending>> ClientEngine::send_async(const std::string& method, json& params,
                                                                      Clock::time_point deadline,
                                                                      const SendOptions& send_options,
                                                                      ProgressOptions progress, AsyncOptions async) {
  TransportWriter writer(*transport_, deadline, send_options);
  return send_async_lent(method, params, deadline, std::move(progress), std::move(async), writer);
}

Result<json> ClientEngine::call(const std::string& method, json params, Clock::time_point deadline,
                                const std::stop_token& stop, WaitOptions wait_options) {
  return call_lent(method, params, deadline, stop, SendOptions{}, ProgressOptions{}, wait_options);
}

Result<json> ClientEngine::call_lent(const std::string& method, json& params, Clock::time_point deadline,
                                     const std::stop_token& stop, const SendOptions& send_options,
                                     ProgressOptions progress, WaitOptions wait_options) {
  if (stop.stop_requested()) return fail(decorate(Error::make(Errc::cancelled, method + ": cancelled")));
  if (in_completion()) return fail(decorate(blocking_in_completion(method)));
  const bool resets = progress.reset_timeout;
  // The caller waits right after sending: the transport may do the exchange on this thread.
  // Not with progress: wait() gives it to on_progress as it comes (and follows a deadline
  // that progress moves), which it could not do from inside the exchange.
  const bool reports = static_cast<bool>(progress.on_progress);
  Result<std::shared_ptr<Pending>> p = nullptr;
  if (reports) {
    TransportWriter writer(*transport_, deadline, send_options);
    p = send_lent(method, params, deadline, std::move(progress), writer);
  } else {
    SendOptions here = send_options;
    here.on_caller_thread = true;
    here.stop = stop;
    TransportWriter writer(*transport_, deadline, here);
    p = send_lent(method, params, deadline, std::move(progress), writer);
  }
  if (p && resets) return wait(*p, (*p)->deadline, stop, wait_options);
  if (!p) return fail(p.error());
  return wait(*p, deadline, stop, wait_options);
}

Result<void> ClientEngine::write(const json& message, Clock::time_point deadline) {
  return transport_->send(message, deadline, SendOptions{});
}

void ClientEngine::close_channel() {
  if (started_) transport_->close();
}

bool ClientEngine::lead(Pending& p, std::uint32_t seen, Clock::time_point until) {
  tl_leading = &p;
  const bool led = transport_->lead([&] { return p.signal.load(std::memory_order_seq_cst) != seen; }, until);
  tl_leading = nullptr;
  return led;
}

void ClientEngine::interrupt_lead(Pending& p) {
  if (tl_leading != &p) transport_->interrupt_lead();
}

}  // namespace mcp::detail
