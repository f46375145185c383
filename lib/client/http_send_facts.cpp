// SPDX-License-Identifier: MIT
// What an MCP message means to the HTTP transport (see http_send_facts.hpp): the one place
// that turns methods, names and `_meta` into headers and SendOptions facts.
#include "http_send_facts.hpp"

#include "../util/base64.hpp"

namespace mcp::detail {

using nlohmann::json;

std::string encode_header_value(const std::string& v) {
  bool plain = !v.empty() && v.front() != ' ' && v.front() != '\t' && v.back() != ' ' && v.back() != '\t';
  for (unsigned char c : v)
    if (!(c == '\t' || (c >= 0x20 && c <= 0x7e))) plain = false;
  const bool sentinel_shaped = v.rfind("=?base64?", 0) == 0 && v.size() >= 11 && v.compare(v.size() - 2, 2, "?=") == 0;
  if (plain && !sentinel_shaped) return v;
  return "=?base64?" + base64_encode(v) + "?=";
}

SendOptions http_send_options(const json& message, const SendOptions& given) {
  SendOptions o;
  o.on_caller_thread = given.on_caller_thread;
  o.stop = given.stop;
  o.headers.reserve(given.headers.size() + 3);
  const auto m = message.is_object() ? message.find("method") : message.end();
  if (m != message.end() && m->is_string()) {
    const auto& method = m->get_ref<const std::string&>();
    const auto p = message.find("params");
    const json* params = p != message.end() && p->is_object() ? &*p : nullptr;
    o.headers.emplace_back("Mcp-Method", encode_header_value(method));
    if (params) {
      const char* key = (method == "tools/call" || method == "prompts/get") ? "name"
                        : method == "resources/read"                        ? "uri"
                                                                            : nullptr;
      const auto v = key ? params->find(key) : params->end();
      if (v != params->end() && v->is_string())
        o.headers.emplace_back("Mcp-Name", encode_header_value(v->get<std::string>()));
      const auto meta = params->find("_meta");
      if (meta != params->end() && meta->is_object()) {
        const auto it = meta->find("io.modelcontextprotocol/protocolVersion");
        if (it != meta->end() && it->is_string())
          o.headers.emplace_back("MCP-Protocol-Version", it->get<std::string>());
      }
    }
    if (method == "initialize") {
      o.opens_session = true;
    } else if (method == "notifications/initialized") {
      o.session_ready = true;
    } else if (method == "notifications/cancelled") {
      // Closing a request's stream is its cancellation (2026-07-28); within a session the
      // notification is sent too. It does not queue behind the requests it may free.
      if (params) o.cancels = params->value("requestId", json());
      o.uncounted = true;
    }
  }
  for (const auto& h : given.headers) o.headers.push_back(h);
  return o;
}

namespace {

// The HTTP transport, told each message's facts.
class WithSendOptions final : public Transport {
 public:
  explicit WithSendOptions(std::unique_ptr<Transport> t) : t_(std::move(t)) {}
  Result<void> start(Callbacks callbacks) override { return t_->start(std::move(callbacks)); }
  Result<void> send(const json& message, Clock::time_point deadline, const SendOptions& options) override {
    return t_->send(message, deadline, http_send_options(message, options));
  }
  void close() override { t_->close(); }
  bool is_open() const override { return t_->is_open(); }
  void set_protocol_version(const std::string& version) override { t_->set_protocol_version(version); }
  bool lead(const std::function<bool()>& changed, Clock::time_point until) override { return t_->lead(changed, until); }
  void interrupt_lead() override { t_->interrupt_lead(); }

 private:
  std::unique_ptr<Transport> t_;
};

}  // namespace

std::unique_ptr<Transport> with_http_send_options(std::unique_ptr<Transport> http) {
  return std::make_unique<WithSendOptions>(std::move(http));
}

}  // namespace mcp::detail
