// SPDX-License-Identifier: MIT
// What a handler asks of the client: elicitation, sampling, roots. Legacy revisions send the
// request to the client and wait; 2026-07-28 answers `input_required` and serves the retry,
// whose `requestState` (sealed here with AES-256-GCM) carries the answers of earlier rounds.
#include "server_impl.hpp"

#include "../lib/protocol/jsonrpc.hpp"
#include "../lib/util/base64.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>

namespace mcp {

namespace sd = server_detail;
using json = nlohmann::json;

namespace {

constexpr std::size_t kNonce = 12, kTag = 16;
constexpr unsigned char kAad[] = "mcp-cpp input state v1";

std::int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct CipherCtx {
  EVP_CIPHER_CTX* p = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(p); }
};

// base64url(nonce | ciphertext | tag).
std::optional<std::string> seal(const std::string& key, const std::string& plain) {
  unsigned char nonce[kNonce];
  if (RAND_bytes(nonce, sizeof nonce) != 1) return std::nullopt;
  CipherCtx c;
  std::string out(reinterpret_cast<const char*>(nonce), kNonce);
  out.resize(kNonce + plain.size() + kTag);
  auto* ct = reinterpret_cast<unsigned char*>(out.data()) + kNonce;
  int n = 0, m = 0;
  if (!c.p || EVP_EncryptInit_ex(c.p, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.p, EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) != 1 ||
      EVP_EncryptInit_ex(c.p, nullptr, nullptr, reinterpret_cast<const unsigned char*>(key.data()), nonce) != 1 ||
      EVP_EncryptUpdate(c.p, nullptr, &n, kAad, sizeof kAad - 1) != 1 ||
      EVP_EncryptUpdate(c.p, ct, &n, reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(c.p, ct + n, &m) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.p, EVP_CTRL_GCM_GET_TAG, kTag, ct + plain.size()) != 1)
    return std::nullopt;
  return detail::base64url_encode(out);
}

std::optional<std::string> open_sealed(const std::string& key, const std::string& text) {
  if (text.size() > (1u << 20)) return std::nullopt;
  auto raw = detail::base64url_decode(text);
  if (!raw || raw->size() < kNonce + kTag) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw->data());
  const std::size_t len = raw->size() - kNonce - kTag;
  std::string plain(len, '\0');
  CipherCtx c;
  int n = 0, m = 0;
  unsigned char tag[kTag];
  std::memcpy(tag, bytes + kNonce + len, kTag);
  if (!c.p || EVP_DecryptInit_ex(c.p, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.p, EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) != 1 ||
      EVP_DecryptInit_ex(c.p, nullptr, nullptr, reinterpret_cast<const unsigned char*>(key.data()), bytes) != 1 ||
      EVP_DecryptUpdate(c.p, nullptr, &n, kAad, sizeof kAad - 1) != 1 ||
      EVP_DecryptUpdate(c.p, reinterpret_cast<unsigned char*>(plain.data()), &n, bytes + kNonce, static_cast<int>(len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.p, EVP_CTRL_GCM_SET_TAG, kTag, tag) != 1 ||
      EVP_DecryptFinal_ex(c.p, reinterpret_cast<unsigned char*>(plain.data()) + n, &m) != 1)
    return std::nullopt;  // not ours, or altered
  return plain;
}

// What a requestState is bound to: the request's method and what it is about (tool name and
// arguments, resource URI, prompt name and arguments): the digest of those, computed only when
// a state is opened or sealed (most requests have neither).
std::string request_digest(const std::string& method, const json& params) {
  json salient{{"method", method}};
  for (const char* k : {"name", "uri", "arguments"})
    if (auto it = params.find(k); it != params.end()) salient[k] = *it;
  const std::string text = salient.dump();
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), md);
  return detail::base64url_encode(std::string_view(reinterpret_cast<const char*>(md), sizeof md));
}

Error missing_capability(json required, const std::string& what) {
  Error e = jsonrpc::error(Errc::invalid_argument, jsonrpc::missing_required_client_capability,
                           "the client did not declare the capability " + what + " needs");
  e.data = json{{"requiredCapabilities", std::move(required)}};
  return e;
}

bool has(const json& caps, const char* key) {
  auto it = caps.find(key);
  return it != caps.end() && it->is_object();
}

// A question's name in inputRequests / inputResponses: the handler's, or the kind and the
// question's number in this run of the handler.
bool valid_key(std::string_view k) {
  return !k.empty() && k.size() <= 64 &&
         std::all_of(k.begin(), k.end(), [](unsigned char ch) { return ch > 0x20 && ch < 0x7f; });
}

// A malformed answer of the client's. In 2026-07-28 it came as a request parameter (an entry
// of inputResponses): invalid params, not a fault of the server's.
Error bad_answer(const RequestContext::Impl& ctx, std::string message) {
  if (ctx.era == Era::modern) return jsonrpc::error(Errc::invalid_message, jsonrpc::invalid_params, std::move(message));
  return Error::make(Errc::invalid_result, std::move(message));
}

}  // namespace

// ------------------------------------------------------------------ asking

namespace {

Result<json> ask(RequestContext::Impl& ctx, const char* kind, std::string_view name, const std::string& method, json params) {
  if (!ctx.connection) return fail(Errc::input_required, method + ": no client to ask (the handler runs without one)");
  if (ctx.era == Era::modern) {
    if (!ctx.input_rounds)
      return fail(Errc::invalid_argument, method + " can be asked only while serving tools/call, resources/read or prompts/get");
    if (!name.empty() && !valid_key(name))
      return fail(Errc::invalid_argument, method + ": a question's key must be 1 to 64 printable ASCII characters");
    const std::string key = name.empty() ? std::string(kind) + "-" + std::to_string(ctx.questions) : std::string(name);
    ++ctx.questions;
    if (!ctx.keys.insert(key).second) return fail(Errc::invalid_argument, method + ": the key " + key + " was asked twice in one run");
    if (auto a = ctx.answers.find(key); a != ctx.answers.end()) return *a;
    ctx.asked[key] = json{{"method", method}, {"params", std::move(params)}};
    return fail(Errc::input_required, "waiting for the client's answer to " + method);
  }
  if (ctx.inline_run)  // the thread that would read the client's answer is the one running the handler
    return fail(Errc::invalid_argument, method + ": a tool run inline (ServerTool::run_inline) cannot wait for the client");
  // On a host's thread (HttpHost's I/O): another thread takes its I/O over before this waits.
  if (sd::blocking_hook) sd::blocking_hook->will_block();
  if (!ctx.task_id.empty()) {
    // 2025-11-25 task: the request names its task, and the task is input_required meanwhile.
    params["_meta"][sd::kMetaRelatedTask] = json{{"taskId", ctx.task_id}};
    if (ctx.task_waiting) ctx.task_waiting(true);
    auto r = ctx.connection->request(nullptr, method, std::move(params), ctx.stop,
                                     std::chrono::steady_clock::now() + ctx.client_request_timeout);
    if (ctx.task_waiting) ctx.task_waiting(false);
    return r;
  }
  return ctx.connection->request(ctx.id, method, std::move(params), ctx.stop,
                                 std::chrono::steady_clock::now() + ctx.client_request_timeout);
}

}  // namespace

Result<ElicitResult> RequestContext::elicit(const ElicitRequest& request, std::string_view key) {
  const bool url = request.mode == "url";
  if (!url && request.mode != "form") return fail(Errc::invalid_argument, "elicitation mode must be \"form\" or \"url\"");
  const auto& caps = impl_.client_capabilities();
  const auto el = caps.find("elicitation");
  const bool declared = el != caps.end() && el->is_object() &&
                        (url ? el->contains("url") : (el->empty() || el->contains("form")));
  if (!declared)
    return fail(missing_capability(json{{"elicitation", url ? json{{"url", json::object()}} : json::object()}},
                                   url ? "URL elicitation" : "elicitation"));
  json params{{"message", request.message}};
  if (url) {
    params["mode"] = "url";
    params["url"] = request.url;
    // 2025-11-25 names each URL elicitation (2026-07-28 has no such id).
    if (impl_.era == Era::legacy) {
      unsigned char rnd[16];
      if (RAND_bytes(rnd, sizeof rnd) != 1) return fail(Errc::invalid_argument, "no randomness for an elicitation id");
      params["elicitationId"] = detail::base64url_encode(std::string_view(reinterpret_cast<const char*>(rnd), sizeof rnd));
    }
  } else {
    params["requestedSchema"] = request.requested_schema.is_object() ? request.requested_schema
                                                                     : json{{"type", "object"}, {"properties", json::object()}};
  }
  auto r = ask(impl_, "elicit", key, "elicitation/create", std::move(params));
  if (!r) return fail(std::move(r.error()));
  ElicitResult out;
  const auto action = r->find("action");
  if (!r->is_object() || action == r->end() || !action->is_string() ||
      (*action != "accept" && *action != "decline" && *action != "cancel"))
    return fail(bad_answer(impl_, "the client's elicitation answer has no valid action"));
  out.action = action->get<std::string>();
  if (auto c = r->find("content"); c != r->end() && c->is_object()) out.content = *c;
  return out;
}

Result<json> RequestContext::sample(const json& params, std::string_view key) {
  if (!params.is_object()) return fail(Errc::invalid_argument, "sampling params must be a JSON object");
  const auto& caps = impl_.client_capabilities();
  if (!has(caps, "sampling")) return fail(missing_capability(json{{"sampling", json::object()}}, "sampling"));
  if ((params.contains("tools") || params.contains("toolChoice")) && !caps["sampling"].contains("tools"))
    return fail(missing_capability(json{{"sampling", {{"tools", json::object()}}}}, "sampling with tools"));
  auto r = ask(impl_, "sample", key, "sampling/createMessage", params);
  if (!r) return fail(std::move(r.error()));
  if (!r->is_object()) return fail(bad_answer(impl_, "the client's sampling answer is not an object"));
  return r;
}

Result<std::vector<Root>> RequestContext::roots(std::string_view key) {
  if (!has(impl_.client_capabilities(), "roots")) return fail(missing_capability(json{{"roots", json::object()}}, "roots"));
  auto r = ask(impl_, "roots", key, "roots/list", json::object());
  if (!r) return fail(std::move(r.error()));
  const auto list = r->find("roots");
  if (!r->is_object() || list == r->end() || !list->is_array())
    return fail(bad_answer(impl_, "the client's roots answer has no roots array"));
  std::vector<Root> out;
  for (const auto& item : *list) {
    if (!item.is_object() || !item.contains("uri") || !item["uri"].is_string()) continue;
    Root root;
    root.uri = item["uri"].get<std::string>();
    if (auto n = item.find("name"); n != item.end() && n->is_string()) root.name = n->get<std::string>();
    out.push_back(std::move(root));
  }
  return out;
}

// ------------------------------------------------------------------ rounds (2026-07-28)

bool Server::Impl::open_input_state(const std::shared_ptr<sd::Connection>& c, const json& id, const std::string& method,
                                    json& params, RequestContext::Impl& ctx) {
  const auto refuse = [&](std::string message) {
    c->respond(id, fail(jsonrpc::error(Errc::invalid_message, jsonrpc::invalid_params, std::move(message))));
    return false;
  };
  ctx.input_rounds = true;
  ctx.input_method = method;
  ctx.input_params = std::move(params);
  const json& in_params = ctx.input_params;
  if (auto st = in_params.find("requestState"); st != in_params.end() && !st->is_null()) {
    ctx.input_digest = request_digest(method, in_params);
    auto plain = st->is_string() ? open_sealed(state_key, st->get_ref<const std::string&>()) : std::nullopt;
    json state = plain ? json::parse(*plain, nullptr, false) : json();
    if (!state.is_object() || state.value("v", 0) != 1 || !state.contains("a") || !state["a"].is_object())
      return refuse(method + ": requestState was not issued by this server, or was altered");
    if (state.value("exp", std::int64_t{0}) < epoch_ms()) return refuse(method + ": requestState has expired; call again");
    if (state.value("m", std::string()) != method || state.value("d", std::string()) != ctx.input_digest)
      return refuse(method + ": requestState belongs to another request");
    ctx.answers = std::move(state["a"]);
  }
  if (auto in = in_params.find("inputResponses"); in != in_params.end() && !in->is_null()) {
    if (!in->is_object()) return refuse(method + ": inputResponses must be an object");
    // Answers by the key of their question; only those of questions the handler asks again are
    // carried into a new requestState, so unknown keys are ignored.
    for (const auto& [k, v] : in->items())
      if (valid_key(k) && ctx.answers.size() < 64) ctx.answers[k] = v;
  }
  return true;
}

json Server::Impl::input_required_result(const RequestContext::Impl& ctx) const {
  json carried = json::object();
  for (const auto& [k, v] : ctx.answers.items())
    if (ctx.keys.count(k)) carried[k] = v;
  json state{{"v", 1},
             {"exp", epoch_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(options.input_state_ttl).count()},
             {"m", ctx.input_method},
             {"d", ctx.input_digest.empty() ? request_digest(ctx.input_method, ctx.input_params) : ctx.input_digest},
             {"a", std::move(carried)}};
  json result{{"resultType", "input_required"}, {"inputRequests", ctx.asked}};
  if (auto sealed = seal(state_key, state.dump())) result["requestState"] = std::move(*sealed);
  return result;
}

}  // namespace mcp
