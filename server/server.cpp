// SPDX-License-Identifier: MIT
// mcp::Server: the registry, the handler threads, the handler's context, and running a tool.
#include "server_impl.hpp"

#include <algorithm>
#include <array>
#include <exception>

namespace mcp {

namespace sd = server_detail;

// ------------------------------------------------------------------ handler threads

namespace server_detail {

int log_level_index(std::string_view level) {
  static constexpr std::array<std::string_view, 8> kLevels{"debug",    "info",  "notice", "warning",
                                                           "error",    "critical", "alert", "emergency"};
  for (std::size_t i = 0; i < kLevels.size(); ++i)
    if (kLevels[i] == level) return static_cast<int>(i);
  return -1;
}

HandlerPool::HandlerPool(std::size_t threads, std::size_t max_queued)
    : max_threads_(std::max<std::size_t>(threads, 1)), max_queued_(std::max<std::size_t>(max_queued, 1)) {}

HandlerPool::~HandlerPool() { stop(); }

bool HandlerPool::submit(std::function<void()> task) {
  {
    std::lock_guard lk(m_);
    if (stopped_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
    if (idle_ == 0 && threads_.size() < max_threads_) {
      threads_.emplace_back([this] { loop(); });
      return true;  // the new thread takes it
    }
  }
  cv_.notify_one();
  return true;
}

void HandlerPool::loop() {
  std::unique_lock lk(m_);
  for (;;) {
    ++idle_;
    cv_.wait(lk, [&] { return stopped_ || !queue_.empty(); });
    --idle_;
    if (stopped_) return;
    auto task = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    try {
      task();
    } catch (...) {
      // Tasks guard their user code themselves; nothing may leave a pool thread.
    }
    lk.lock();
  }
}

void HandlerPool::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lk(m_);
    stopped_ = true;
    queue_.clear();
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads)
    if (t.joinable()) t.join();
}

}  // namespace server_detail

// ------------------------------------------------------------------ context

Era RequestContext::era() const { return impl_.era; }
const std::string& RequestContext::protocol_version() const { return impl_.protocol_version; }
const Implementation& RequestContext::client_info() const { return impl_.client_info; }
const nlohmann::json& RequestContext::client_capabilities() const { return impl_.client_capabilities; }
const nlohmann::json& RequestContext::meta() const { return impl_.meta; }
std::stop_token RequestContext::stop_token() const { return impl_.stop; }

Result<void> RequestContext::progress(double progress, std::optional<double> total, std::string message) {
  const auto token = impl_.meta.find("progressToken");
  if (token == impl_.meta.end() || !impl_.connection) return {};
  nlohmann::json params{{"progressToken", *token}, {"progress", progress}};
  if (total) params["total"] = *total;
  if (!message.empty()) params["message"] = std::move(message);
  return impl_.connection->notify(impl_.id, "notifications/progress", std::move(params));
}

Result<void> RequestContext::log(std::string_view level, nlohmann::json data, std::string logger) {
  const int index = sd::log_level_index(level);
  if (index < 0) return fail(Errc::invalid_argument, "unknown log level '" + std::string(level) + "'");
  if (!impl_.connection || index < impl_.log_level) return {};
  nlohmann::json params{{"level", std::string(level)}, {"data", std::move(data)}};
  if (!logger.empty()) params["logger"] = std::move(logger);
  return impl_.connection->notify(impl_.id, "notifications/message", std::move(params));
}

// ------------------------------------------------------------------ server

Server::Impl::Impl(ServerOptions o)
    : options(std::move(o)), pool(options.handler_threads, options.max_queued_requests) {}

std::shared_ptr<const Server::Impl::Tool> Server::Impl::find_tool(std::string_view name) const {
  std::lock_guard lk(m);
  auto it = tools_by_name.find(name);
  return it == tools_by_name.end() ? nullptr : it->second;
}

void Server::Impl::diagnose(std::string_view what) const {
  if (!options.on_diagnostic) return;
  try {
    options.on_diagnostic(what);
  } catch (...) {
  }
}

nlohmann::json Server::Impl::identity_json() const {
  const auto& id = options.identity;
  nlohmann::json j{{"name", id.name}, {"version", id.version}};
  if (id.title) j["title"] = *id.title;
  if (id.description) j["description"] = *id.description;
  if (id.website_url) j["websiteUrl"] = *id.website_url;
  return j;
}

nlohmann::json Server::Impl::capabilities() const {
  // Tools are always offered (a server with none lists none); logging: handlers may log.
  return {{"tools", {{"listChanged", false}}}, {"logging", nlohmann::json::object()}};
}

namespace {

CallToolResult error_result(std::string text) {
  CallToolResult r;
  ContentBlock b;
  b.type = "text";
  b.text = std::move(text);
  r.content.push_back(std::move(b));
  r.is_error = true;
  return r;
}

}  // namespace

Result<CallToolResult> Server::Impl::run_tool(const Tool& tool, const nlohmann::json& arguments,
                                              RequestContext::Impl& ctx, bool legacy_invalid_params) {
  if (tool.input) {
    if (auto why = tool.input->validate(arguments); !why.empty()) {
      std::string text = "Invalid arguments for tool " + tool.spec.name + ": " + why;
      if (legacy_invalid_params) {
        Error e = Error::make(Errc::invalid_argument, std::move(text));
        e.rpc_code = -32602;
        return fail(std::move(e));
      }
      return error_result(std::move(text));
    }
  }
  RequestContext context(ctx);
  Result<CallToolResult> r = fail(Errc::invalid_argument, "no result");
  try {
    r = tool.spec.handler(arguments, context);
  } catch (const std::exception& e) {
    diagnose("tool " + tool.spec.name + " threw: " + e.what());
    return error_result("Tool " + tool.spec.name + " failed: " + e.what());
  } catch (...) {
    diagnose("tool " + tool.spec.name + " threw");
    return error_result("Tool " + tool.spec.name + " failed");
  }
  if (!r) return r;
  // A successful result with structured content must match the output schema; a tool that
  // breaks its own contract is a server error, not something the model can correct.
  if (tool.output && !r->is_error) {
    if (!r->structured_content) {
      Error e = Error::make(Errc::invalid_result, "tool " + tool.spec.name +
                                                      " has an output schema but returned no structured content");
      e.rpc_code = -32603;
      return fail(std::move(e));
    }
    if (auto why = tool.output->validate(*r->structured_content); !why.empty()) {
      Error e = Error::make(Errc::invalid_result,
                            "tool " + tool.spec.name + " returned structured content its output schema refuses: " + why);
      e.rpc_code = -32603;
      return fail(std::move(e));
    }
  }
  return r;
}

Server::Server(ServerOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}

Server::~Server() { impl_->pool.stop(); }

Result<void> Server::add_tool(ServerTool tool) {
  if (tool.name.empty()) return fail(Errc::invalid_argument, "a tool needs a name");
  if (!tool.handler) return fail(Errc::invalid_argument, "tool " + tool.name + " has no handler");
  if (!tool.input_schema.is_object())
    return fail(Errc::invalid_argument, "tool " + tool.name + ": the input schema must be a JSON object");
  auto t = std::make_shared<Impl::Tool>();
  auto in = detail::SchemaValidator::compile(tool.input_schema);
  if (!in) return fail(Errc::invalid_argument, "tool " + tool.name + ": input schema: " + in.error());
  t->input = *in;
  if (tool.output_schema) {
    if (!tool.output_schema->is_object())
      return fail(Errc::invalid_argument, "tool " + tool.name + ": the output schema must be a JSON object");
    auto out = detail::SchemaValidator::compile(*tool.output_schema);
    if (!out) return fail(Errc::invalid_argument, "tool " + tool.name + ": output schema: " + out.error());
    t->output = *out;
  }
  ToolDefinition& d = t->definition;
  d.name = tool.name;
  d.title = tool.title;
  d.description = tool.description;
  d.input_schema = tool.input_schema;
  d.output_schema = tool.output_schema;
  d.annotations = tool.annotations;
  nlohmann::json raw{{"name", d.name}, {"inputSchema", d.input_schema}};
  if (d.title) raw["title"] = *d.title;
  if (d.description) raw["description"] = *d.description;
  if (d.output_schema) raw["outputSchema"] = *d.output_schema;
  if (!d.annotations.is_null()) raw["annotations"] = d.annotations;
  d.raw = std::move(raw);
  t->spec = std::move(tool);
  std::lock_guard lk(impl_->m);
  if (impl_->tools_by_name.count(t->spec.name)) return fail(Errc::invalid_argument, "a tool named " + t->spec.name + " exists already");
  impl_->tools_by_name.emplace(t->spec.name, t);
  impl_->tools.push_back(std::move(t));
  return {};
}

const ServerIdentity& Server::info() const { return impl_->options.identity; }

std::vector<ToolDefinition> Server::tool_infos() const {
  std::lock_guard lk(impl_->m);
  std::vector<ToolDefinition> out;
  out.reserve(impl_->tools.size());
  for (const auto& t : impl_->tools) out.push_back(t->definition);
  return out;
}

std::optional<ToolDefinition> Server::tool_info(std::string_view name) const {
  auto t = impl_->find_tool(name);
  if (!t) return std::nullopt;
  return t->definition;
}

Result<CallToolResult> Server::execute_tool(std::string_view name, const nlohmann::json& arguments) {
  auto t = impl_->find_tool(name);
  if (!t) return fail(Errc::tool_not_found, "no tool named " + std::string(name));
  if (!arguments.is_object()) return fail(Errc::invalid_argument, "tool arguments must be a JSON object");
  RequestContext::Impl ctx;
  auto r = impl_->run_tool(*t, arguments, ctx, true);
  if (!r && r.error().rpc_code == -32602) r.error().code = make_error_code(Errc::invalid_argument);
  return r;
}

}  // namespace mcp
