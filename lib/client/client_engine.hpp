// SPDX-License-Identifier: MIT
#pragma once
// The client's JSON-RPC engine: the engine (lib/protocol/rpc_engine) over a Transport, with the
// client's fast paths for a caller that waits for its reply: it reads the transport itself
// (`lead`), and an HTTP exchange runs on its thread (SendOptions::on_caller_thread).
#include "../protocol/rpc_engine.hpp"

#include "transport.hpp"

#include <atomic>
#include <memory>
#include <stop_token>
#include <string>

namespace mcp::detail {

class ClientEngine final : public RpcEngine {
 public:
  ClientEngine(std::shared_ptr<Transport> transport, Options options);
  ~ClientEngine() override;

  /// Start the transport. Must be called once before anything else.
  [[nodiscard]] Result<void> start();

  /// Send a request without waiting (then wait() for it).
  [[nodiscard]] Result<std::shared_ptr<Pending>> send_request(const std::string& method, json params,
                                                              Clock::time_point deadline,
                                                              const SendOptions& send_options = {},
                                                              ProgressOptions progress = {});
  /// Send a request whose outcome goes to `async.done` (see RpcEngine::send_async_lent): no
  /// thread waits for it. `params` are lent (as call_lent).
  [[nodiscard]] Result<std::shared_ptr<Pending>> send_async(const std::string& method, json& params,
                                                            Clock::time_point deadline, const SendOptions& send_options,
                                                            ProgressOptions progress, AsyncOptions async);
  /// Send a request and wait for its reply.
  [[nodiscard]] Result<json> call(const std::string& method, json params, Clock::time_point deadline,
                                  const std::stop_token& stop, WaitOptions wait_options = {});
  /// The same with `params` lent (RpcEngine::send_lent): moved into
  /// the message while it is sent and moved back after.
  [[nodiscard]] Result<json> call_lent(const std::string& method, json& params, Clock::time_point deadline,
                                       const std::stop_token& stop, const SendOptions& send_options,
                                       ProgressOptions progress, WaitOptions wait_options = {});
  /// Forwarded to the transport (HTTP sends it as MCP-Protocol-Version).
  void set_protocol_version(const std::string& v) { transport_->set_protocol_version(v); }
  /// What carries the messages now (the transport's in_use()).
  [[nodiscard]] Transport::InUse transport_in_use() const { return transport_->in_use(); }
  /// The last close() ran on one of the transport's own threads, which it left to end by
  /// themselves (Transport::close_deferred): close() again from another thread to wait for them.
  [[nodiscard]] bool close_deferred() const { return started_ && transport_->close_deferred(); }

 private:
  class TransportWriter;
  Result<void> write(const json& message, Clock::time_point deadline) override;
  void close_channel() override;
  bool lead(Pending& p, std::uint32_t seen, Clock::time_point until) override;
  void interrupt_lead(Pending& p) override;

  // Shared with the transport's own threads while they run its code (see transport.hpp): the
  // engine may be destroyed on one of them.
  std::shared_ptr<Transport> transport_;
  std::atomic<bool> started_{false};
};

}  // namespace mcp::detail
