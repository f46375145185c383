// SPDX-License-Identifier: MIT
// What an MCP message means to the HTTP transport (see http_send_facts.hpp): the one place
// that turns methods, names and `_meta` into headers and SendOptions facts.
#include "http_send_facts.hpp"

#include "lent.hpp"
#include "request_meta.hpp"

#include "../util/base64.hpp"

namespace mcp::detail {

using nlohmann::json;
using namespace std::string_view_literals;

namespace {

// encode_header_value, into `out`.
void encode_header_value(std::string_view v, std::string& out) {
  bool plain = !v.empty() && v.front() != ' ' && v.front() != '\t' && v.back() != ' ' && v.back() != '\t';
  for (unsigned char c : v)
    if (!(c == '\t' || (c >= 0x20 && c <= 0x7e))) plain = false;
  const bool sentinel_shaped = v.starts_with("=?base64?") && v.size() >= 11 && v.ends_with("?=");
  if (plain && !sentinel_shaped) out.assign(v);
  else out.assign("=?base64?").append(base64_encode(v)).append("?=");
}

}  // namespace

std::string encode_header_value(const std::string& v) {
  std::string out;
  encode_header_value(v, out);
  return out;
}

SendOptions http_send_options(const json& message, const SendOptions& given) {
  SendOptions o;
  http_send_options(message, given, o);
  return o;
}

void http_send_options(const json& message, const SendOptions& given, SendOptions& o) {
  o.on_caller_thread = given.on_caller_thread;
  o.stop = given.stop;
  o.opens_session = o.session_ready = o.uncounted = o.long_lived = false;
  o.cancels = nullptr;
  // In place: the strings of `o` keep their capacity (a thread's reused SendOptions).
  std::size_t n = 0;
  auto put = [&](std::string_view k, std::string_view v, bool encode) {
    if (n == o.headers.size()) o.headers.emplace_back();
    auto& [name, value] = o.headers[n++];
    name.assign(k);
    if (encode) encode_header_value(v, value);
    else value.assign(v);
  };
  const auto m = message.is_object() ? message.find("method"sv) : message.end();
  if (m != message.end() && m->is_string()) {
    const std::string_view method = m->get_ref<const std::string&>();
    const auto p = message.find("params"sv);
    const json* params = p != message.end() && p->is_object() ? &*p : nullptr;
    put("Mcp-Method", method, true);
    if (params) {
      const std::string_view key = (method == "tools/call"sv || method == "prompts/get"sv) ? "name"sv
                                   : method == "resources/read"sv                         ? "uri"sv
                                   : method.starts_with("tasks/"sv)                       ? "taskId"sv
                                                                                          : ""sv;
      const auto v = key.empty() ? params->end() : params->find(key);
      if (v != params->end() && v->is_string()) put("Mcp-Name", v->get_ref<const std::string&>(), true);
      const auto meta = params->find("_meta"sv);
      if (meta != params->end()) {
        const std::string_view version = meta_protocol_version(*meta);  // a tree, or our text
        if (!version.empty()) put("MCP-Protocol-Version", version, false);
      }
    }
    if (method == "initialize"sv) {
      o.opens_session = true;
    } else if (method == "notifications/initialized"sv) {
      o.session_ready = true;
    } else if (method == "subscriptions/listen"sv) {
      o.long_lived = true;
    } else if (method == "notifications/cancelled"sv) {
      // Closing a request's stream is its cancellation (2026-07-28); within a session the
      // notification is sent too. It does not queue behind the requests it may free.
      if (params) o.cancels = params->value("requestId", json());
      o.uncounted = true;
    }
  }
  for (const auto& [k, v] : given.headers) put(k, v, false);
  o.headers.resize(n);
}

namespace {

// A Lent tag: what a thread keeps of its SendOptions between messages (their headers' strings).
struct Facts {
  static void shed(SendOptions& o) {
    o.stop = {};  // the caller's stop state is not kept alive
    o.cancels = nullptr;
    if (o.headers.size() > 16) o.headers.clear();
  }
};

// The HTTP transport, told each message's facts.
class WithSendOptions final : public Transport {
 public:
  explicit WithSendOptions(std::shared_ptr<Transport> t) : t_(std::move(t)) {}
  Result<void> start(Callbacks callbacks) override { return t_->start(std::move(callbacks)); }
  Result<void> send(const json& message, Clock::time_point deadline, const SendOptions& options) override {
    // The thread's SendOptions, reused: no allocation per message once its strings have grown.
    Lent<SendOptions, Facts> o;
    http_send_options(message, options, *o);
    return t_->send(message, deadline, *o);
  }
  void close() override { t_->close(); }
  bool close_deferred() const override { return t_->close_deferred(); }
  bool is_open() const override { return t_->is_open(); }
  void set_protocol_version(const std::string& version) override { t_->set_protocol_version(version); }
  bool lead(const std::function<bool()>& changed, Clock::time_point until) override { return t_->lead(changed, until); }
  void interrupt_lead() override { t_->interrupt_lead(); }
  InUse in_use() const override { return t_->in_use(); }

 private:
  std::shared_ptr<Transport> t_;
};

}  // namespace

std::shared_ptr<Transport> with_http_send_options(std::shared_ptr<Transport> http) {
  return std::make_shared<WithSendOptions>(std::move(http));
}

}  // namespace mcp::detail
