// SPDX-License-Identifier: MIT
// Client: one Session per configured server, opened lazily; flat and nested tool views; listings
// over several servers; the registry of live clients.
#include <mcp/client.hpp>

#include "client/http_transport.hpp"
#include "log_emit.hpp"
#include "protocol/jsonrpc.hpp"
#include "protocol/rpc_engine.hpp"
#include "server_error.hpp"
#include "session_access.hpp"

#include <mutex>
#include <set>

namespace mcp {

using nlohmann::json;

namespace detail {
// A server that does not implement a listing (tools/list, resources/list, ... answered with
// -32601) lists nothing: in the listings over every server that is no error.
// A server without the listing: -32601, or (skills) no declaration of the extension.
static bool lists_nothing(const Error& e) {
  return e.rpc_code == jsonrpc::method_not_found || e.errc() == Errc::extension_not_supported;
}
}  // namespace detail

// ---------------------------------------------------------------- Tool

Tool::Tool(std::string server, ToolDefinition definition, std::weak_ptr<Session> session)
    : server_(std::move(server)), definition_(std::move(definition)), session_(std::move(session)) {}

Result<CallToolResult> Tool::call(json arguments, const RequestOptions& options) const {
  auto s = session_.lock();
  if (!s) return fail(Errc::disconnected, "tool '" + definition_.name + "': its client no longer exists", server_);
  return s->call_tool(definition_.name, std::move(arguments), options);
}

void Tool::start_call(const std::weak_ptr<Session>& session, const std::string& server, std::string name,
                      json arguments, RequestOptions options, Callback<CallToolResult> done) {
  auto s = session.lock();
  if (!s) {
    detail::RpcEngine::post_callback(nullptr, [done = std::move(done), server, name] {
      done(fail(Errc::disconnected, "tool '" + name + "': its client no longer exists", server));
    });
    return;
  }
  s->async_call_tool(std::move(name), std::move(arguments), std::move(options), std::move(done));
}

// ---------------------------------------------------------------- live-client registry

namespace {

// Two live clients with the same servers and no id are almost always a leak (a client built
// per request and never disconnected, each keeping its own server processes and connections);
// refusing the second makes it visible. Checked once, at create(); a client holds its place
// until disconnect() or its destruction, and a call after disconnect() reconnects without
// asking again (disconnecting and going on is a choice, not a leak).
struct Registry {
  std::mutex m;
  std::multiset<std::string> live;
  static Registry& get() {
    static Registry r;
    return r;
  }
};

json fingerprint(const ClientConfig& c) {
  json servers = json::object();
  for (const auto& [name, s] : c.servers) {
    json j;
    if (const auto* st = std::get_if<StdioServerConfig>(&s.transport)) {
      j = json{{"command", st->command}, {"args", st->args}, {"env", st->env},
               {"cwd", st->cwd.value_or("")}, {"inherit_env", st->inherit_env}};
    } else {
      const auto& h = std::get<HttpServerConfig>(s.transport);
      j = json{{"url", h.url}, {"headers", h.headers}, {"transport", static_cast<int>(h.transport)}};
    }
    j["era"] = static_cast<int>(s.era);
    j["version"] = s.protocol_version.value_or("");
    servers[name] = std::move(j);
  }
  return json{{"id", c.id.value_or("")}, {"servers", std::move(servers)}};
}

// The one validation of a configuration: Client::create() (and so a pool's factory path).
Result<void> check_config(const ClientConfig& config) {
  if (config.servers.empty()) return fail(Errc::invalid_config, "the client configuration has no servers");
  for (const auto& [name, s] : config.servers) {
    if (name.empty()) return fail(Errc::invalid_config, "a server has an empty name");
    if (const auto* st = std::get_if<StdioServerConfig>(&s.transport)) {
      if (st->command.empty()) return fail(Errc::invalid_config, "server '" + name + "': empty command");
    } else if (const auto& http = std::get<HttpServerConfig>(s.transport); http.url.empty()) {
      return fail(Errc::invalid_config, "server '" + name + "': empty url");
    } else if (auto checked = detail::check_http_config(http); !checked) {
      return fail(Errc::invalid_config, "server '" + name + "': " + checked.error().message);
    }
    if (s.protocol_version && !protocol::is_modern_version(*s.protocol_version) &&
        !protocol::is_legacy_version(*s.protocol_version))
      return fail(Errc::invalid_config, "server '" + name + "': unknown protocol version '" + *s.protocol_version + "'");
  }
  return {};
}

Error moved_from() {
  return Error::make(Errc::invalid_argument, "this mcp::Client was moved from: use the Client it was moved to");
}

}  // namespace

// ---------------------------------------------------------------- Client

struct Client::Impl {
  ClientConfig config;
  std::string key;  // the registry's, while registered
  std::map<std::string, std::shared_ptr<Session>> sessions;
  std::mutex mutex;
  bool registered = false;

  ~Impl() {
    for (auto& [n, s] : sessions) s->disconnect();
    unregister();
  }

  Result<void> register_live() {
    if (!config.refuse_duplicate) return {};
    std::lock_guard lk(mutex);
    auto& reg = Registry::get();
    std::lock_guard rl(reg.m);
    if (reg.live.count(key)) {
      return fail(Errc::duplicate_client,
                  std::string("another live mcp::Client has an identical configuration") +
                      (config.id ? " and the same id '" + *config.id + "'" : " and no id") +
                      ": give each client a distinct ClientConfig::id, or disconnect() the first one");
    }
    reg.live.insert(key);
    registered = true;
    return {};
  }

  void unregister() {
    std::lock_guard lk(mutex);
    if (!registered) return;
    auto& reg = Registry::get();
    std::lock_guard rl(reg.m);
    auto it = reg.live.find(key);
    if (it != reg.live.end()) reg.live.erase(it);
    registered = false;
  }

  Result<std::shared_ptr<Session>> session(const std::string& server) {
    auto it = sessions.find(server);
    if (it == sessions.end()) {
      std::string known;
      for (const auto& [n, s] : sessions) known += (known.empty() ? "" : ", ") + n;
      return fail(Errc::unknown_server, "no server named '" + server + "' (configured: " + known + ")");
    }
    return it->second;
  }

  // Lists on every server: the first page is requested from all of them before any reply is
  // awaited (no thread per server; see SessionAccess), then each listing is completed.
  template <class T, class List>
  void for_each_server(const std::string& method, const RequestOptions& opt, List list,
                       std::map<std::string, T>& ok, std::map<std::string, Error>& errors) {
    std::vector<Session*> all;
    for (const auto& [n, s] : sessions) all.push_back(s.get());
    auto firsts = detail::SessionAccess::first_pages(all, method, opt);
    std::size_t i = 0;
    for (const auto& [n, s] : sessions) {
      auto r = list(*s, opt, std::move(firsts[i++]));
      if (r) ok.emplace(n, std::move(*r));
      else if (detail::lists_nothing(r.error())) ok.emplace(n, T{});
      else errors.emplace(n, std::move(r.error()));
    }
  }

  Partial<Toolsets> toolsets(const RequestOptions& opt) {
    std::map<std::string, std::vector<ToolDefinition>> defs;
    Partial<Toolsets> out;
    for_each_server("tools/list", opt, detail::SessionAccess::list_tools, defs, out.errors);
    for (auto& [server, list] : defs) {
      auto& set = out.value[server];
      std::weak_ptr<Session> weak = sessions.at(server);
      for (auto& d : list) {
        std::string n = d.name;
        set.insert_or_assign(n, Tool(server, std::move(d), weak));
      }
    }
    return out;
  }

  ToolMap flatten(Toolsets&& sets) {
    ToolMap flat;
    for (auto& [server, set] : sets) {
      for (auto& [name, tool] : set) {
        auto key = server + "_" + name;
        if (flat.count(key) && (config.on_diagnostic || config.on_log)) {
          const std::string what = "tool key '" + key + "' is ambiguous; the later one wins";
          try {
            if (config.on_diagnostic) config.on_diagnostic(server, what);
          } catch (...) {  // as everywhere else: what it throws is ignored
          }
          LogEvent ev;
          ev.level = LogLevel::warning;
          ev.kind = LogKind::diagnostic;
          ev.server = server;
          ev.message = what;
          ev.method = "tools/list";
          detail::emit_log(config.on_log, ev);
        }
        flat.insert_or_assign(std::move(key), std::move(tool));
      }
    }
    return flat;
  }
};

namespace {
// Partial results of a moved-from client: nothing, and the error under an empty server name.
template <class T>
Partial<T> moved_from_partial() {
  Partial<T> out;
  out.errors.emplace("", moved_from());
  return out;
}
}  // namespace

Client::Client(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Result<Client> Client::create(ClientConfig config) {
  if (auto checked = check_config(config); !checked) return fail(checked.error());
  auto impl = std::make_shared<Impl>();
  impl->key = fingerprint(config).dump();
  // The sessions share the client-wide fields; each gets them without the server list.
  auto servers = std::move(config.servers);
  const ClientConfig shared = config;
  config.servers = std::move(servers);
  for (const auto& [name, s] : config.servers) impl->sessions.emplace(name, std::make_shared<Session>(name, s, shared));
  impl->config = std::move(config);
  auto reg = impl->register_live();
  if (!reg) return fail(reg.error());
  return Client(std::move(impl));
}

std::vector<std::string> Client::server_names() const {
  std::vector<std::string> out;
  if (!impl_) return out;
  for (const auto& [n, s] : impl_->sessions) out.push_back(n);
  return out;
}

Result<std::shared_ptr<Session>> Client::session(const std::string& server) const {
  if (!impl_) return fail(moved_from());
  return impl_->session(server);
}

Result<ServerInfo> Client::server_info(const std::string& server, const RequestOptions& options) {
  auto s = session(server);
  if (!s) return fail(s.error());
  return (*s)->connect(options);
}

Partial<Toolsets> Client::list_toolsets_partial(const RequestOptions& options) {
  if (!impl_) return moved_from_partial<Toolsets>();
  return impl_->toolsets(options);
}

Result<Toolsets> Client::list_toolsets(const RequestOptions& options) {
  auto p = list_toolsets_partial(options);
  if (!p.errors.empty()) return fail(p.errors.begin()->second);
  return std::move(p.value);
}

Partial<ToolMap> Client::list_tools_partial(const RequestOptions& options) {
  if (!impl_) return moved_from_partial<ToolMap>();
  auto p = impl_->toolsets(options);
  return Partial<ToolMap>{impl_->flatten(std::move(p.value)), std::move(p.errors)};
}

Result<ToolMap> Client::list_tools(const RequestOptions& options) {
  if (!impl_) return fail(moved_from());
  auto p = impl_->toolsets(options);
  if (!p.errors.empty()) return fail(p.errors.begin()->second);
  return impl_->flatten(std::move(p.value));
}

Result<CallToolResult> Client::call_tool(const std::string& server, const std::string& tool, json arguments,
                                         const RequestOptions& options) {
  auto s = session(server);
  if (!s) return fail(s.error());
  return (*s)->call_tool(tool, std::move(arguments), options);
}

Result<ToolTask> Client::call_tool_task(const std::string& server, const std::string& tool, json arguments,
                                        const RequestOptions& options) {
  auto s = session(server);
  if (!s) return fail(s.error());
  return (*s)->call_tool_task(tool, std::move(arguments), options);
}

Partial<std::map<std::string, std::vector<Resource>>> Client::list_resources(const RequestOptions& options) {
  using Out = std::map<std::string, std::vector<Resource>>;
  if (!impl_) return moved_from_partial<Out>();
  Partial<Out> out;
  impl_->for_each_server("resources/list", options, detail::SessionAccess::list_resources, out.value, out.errors);
  return out;
}

Partial<std::map<std::string, std::vector<ResourceTemplate>>> Client::list_resource_templates(
    const RequestOptions& options) {
  using Out = std::map<std::string, std::vector<ResourceTemplate>>;
  if (!impl_) return moved_from_partial<Out>();
  Partial<Out> out;
  impl_->for_each_server("resources/templates/list", options, detail::SessionAccess::list_resource_templates,
                         out.value, out.errors);
  return out;
}

Partial<std::map<std::string, std::vector<Prompt>>> Client::list_prompts(const RequestOptions& options) {
  using Out = std::map<std::string, std::vector<Prompt>>;
  if (!impl_) return moved_from_partial<Out>();
  Partial<Out> out;
  impl_->for_each_server("prompts/list", options, detail::SessionAccess::list_prompts, out.value, out.errors);
  return out;
}

Result<ReadResourceResult> Client::read_resource(const std::string& server, const std::string& uri,
                                                 const RequestOptions& options) {
  auto s = session(server);
  if (!s) return fail(s.error());
  return (*s)->read_resource(uri, options);
}

Result<GetPromptResult> Client::get_prompt(const std::string& server, const std::string& name,
                                           const std::map<std::string, std::string>& arguments,
                                           const RequestOptions& options) {
  auto s = session(server);
  if (!s) return fail(s.error());
  return (*s)->get_prompt(name, arguments, options);
}

bool Client::healthy() const {
  if (!impl_) return false;
  for (const auto& [n, s] : impl_->sessions)
    if (s->failed()) return false;
  return true;
}

void Client::disconnect() {
  if (!impl_) return;
  for (auto& [n, s] : impl_->sessions) s->disconnect();
  impl_->unregister();
}

// ---------------------------------------------------------------- asynchronous API
namespace {

// An immediate failure of an asynchronous call: never run inside the call that started it.
template <class T>
void post_failure(const std::function<void(std::function<void()>)>& executor, Callback<T> done, Error e) {
  detail::RpcEngine::post_callback(executor, [done = std::move(done), e = std::move(e)] { done(fail(e)); });
}

// What a listing over every server gathers, completed when the last server answers (its
// completion runs where that server's did).
template <class T>
struct Gather {
  std::mutex m;
  std::size_t left = 0;
  std::map<std::string, T> ok;
  std::map<std::string, Error> errors;
  std::function<void(Gather&)> done;
  void add(const std::string& server, Result<T> r) {
    {
      std::lock_guard lk(m);
      if (r) ok.emplace(server, std::move(*r));
      else if (detail::lists_nothing(r.error())) ok.emplace(server, T{});
      else errors.emplace(server, std::move(r.error()));
      if (--left != 0) return;
    }
    done(*this);
  }
};

// Starts `list(session, callback)` on every server of `sessions`; `finish` gets the gathered outcome.
template <class T, class List>
void gather(const std::map<std::string, std::shared_ptr<Session>>& sessions, List list,
            std::function<void(Gather<T>&)> finish) {
  auto g = std::make_shared<Gather<T>>();
  g->left = sessions.size();
  g->done = std::move(finish);
  for (const auto& [name, s] : sessions)
    list(*s, [g, name = name](Result<T> r) { g->add(name, std::move(r)); });
}

}  // namespace

void Client::start_call_tool(const std::shared_ptr<Impl>& impl, std::string server, std::string tool, json arguments,
                             RequestOptions options, Callback<CallToolResult> done) {
  if (!impl) return post_failure<CallToolResult>(nullptr, std::move(done), moved_from());
  auto s = impl->session(server);
  if (!s) return post_failure<CallToolResult>(impl->config.executor, std::move(done), std::move(s.error()));
  (*s)->async_call_tool(std::move(tool), std::move(arguments), std::move(options), std::move(done));
}

void Client::start_server_info(const std::shared_ptr<Impl>& impl, std::string server, RequestOptions options,
                               Callback<ServerInfo> done) {
  if (!impl) return post_failure<ServerInfo>(nullptr, std::move(done), moved_from());
  auto s = impl->session(server);
  if (!s) return post_failure<ServerInfo>(impl->config.executor, std::move(done), std::move(s.error()));
  (*s)->async_connect(std::move(options), std::move(done));
}

void Client::start_list_toolsets(const std::shared_ptr<Impl>& impl, RequestOptions options, Callback<Toolsets> done) {
  if (!impl) return post_failure<Toolsets>(nullptr, std::move(done), moved_from());
  std::weak_ptr<Impl> weak = impl;
  gather<std::vector<ToolDefinition>>(
      impl->sessions,
      [&options](Session& s, Callback<std::vector<ToolDefinition>> cb) { s.async_list_tools(options, std::move(cb)); },
      [weak, done = std::move(done)](Gather<std::vector<ToolDefinition>>& g) {
        if (!g.errors.empty()) return done(fail(g.errors.begin()->second));
        auto impl = weak.lock();
        if (!impl) return done(fail(Errc::disconnected, "the client no longer exists"));
        Toolsets out;
        for (auto& [server, list] : g.ok) {
          auto& set = out[server];
          std::weak_ptr<Session> session = impl->sessions.at(server);
          for (auto& d : list) {
            std::string n = d.name;
            set.insert_or_assign(n, Tool(server, std::move(d), session));
          }
        }
        done(std::move(out));
      });
}

void Client::start_list_tools(const std::shared_ptr<Impl>& impl, RequestOptions options, Callback<ToolMap> done) {
  std::weak_ptr<Impl> weak = impl;
  start_list_toolsets(impl, std::move(options), [weak, done = std::move(done)](Result<Toolsets> r) {
    if (!r) return done(fail(r.error()));
    auto impl = weak.lock();
    if (!impl) return done(fail(Errc::disconnected, "the client no longer exists"));
    done(impl->flatten(std::move(*r)));
  });
}

namespace {

template <class T, class List>
void list_all(const std::map<std::string, std::shared_ptr<Session>>& sessions, List list,
              Callback<Partial<std::map<std::string, std::vector<T>>>> done) {
  gather<std::vector<T>>(sessions, list, [done = std::move(done)](Gather<std::vector<T>>& g) {
    done(Partial<std::map<std::string, std::vector<T>>>{std::move(g.ok), std::move(g.errors)});
  });
}

}  // namespace

void Client::start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                        Callback<Partial<std::map<std::string, std::vector<Resource>>>> done) {
  if (!impl) return post_failure(nullptr, std::move(done), moved_from());
  list_all<Resource>(impl->sessions, [&options](Session& s, Callback<std::vector<Resource>> cb) {
    s.async_list_resources(options, std::move(cb));
  }, std::move(done));
}

void Client::start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                        Callback<Partial<std::map<std::string, std::vector<ResourceTemplate>>>> done) {
  if (!impl) return post_failure(nullptr, std::move(done), moved_from());
  list_all<ResourceTemplate>(impl->sessions, [&options](Session& s, Callback<std::vector<ResourceTemplate>> cb) {
    s.async_list_resource_templates(options, std::move(cb));
  }, std::move(done));
}

void Client::start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                        Callback<Partial<std::map<std::string, std::vector<Prompt>>>> done) {
  if (!impl) return post_failure(nullptr, std::move(done), moved_from());
  list_all<Prompt>(impl->sessions, [&options](Session& s, Callback<std::vector<Prompt>> cb) {
    s.async_list_prompts(options, std::move(cb));
  }, std::move(done));
}

void Client::start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                        Callback<Partial<std::map<std::string, std::vector<Skill>>>> done) {
  if (!impl) return post_failure(nullptr, std::move(done), moved_from());
  list_all<Skill>(impl->sessions, [&options](Session& s, Callback<std::vector<Skill>> cb) {
    s.async_list_skills(options, std::move(cb));
  }, std::move(done));
}

Result<std::shared_ptr<Session>> Client::session_of(const std::shared_ptr<Impl>& impl, const std::string& server) {
  if (!impl) return fail(moved_from());
  return impl->session(server);
}

void Client::post(const std::shared_ptr<Impl>& impl, std::function<void()> task) {
  detail::RpcEngine::post_callback(impl ? impl->config.executor : nullptr, std::move(task));
}

Partial<std::map<std::string, std::vector<Skill>>> Client::list_skills(const RequestOptions& options) {
  using Out = std::map<std::string, std::vector<Skill>>;
  if (!impl_) return moved_from_partial<Out>();
  // One server after the other, on this thread: waiting here for completions that a
  // ClientConfig::executor runs could deadlock a caller on that executor. (async_list_skills
  // asks every server at once.)
  Partial<Out> out;
  for (const auto& [name, s] : impl_->sessions) {
    auto r = s->list_skills(options);
    if (r) out.value.emplace(name, std::move(*r));
    else if (detail::lists_nothing(r.error())) out.value.emplace(name, std::vector<Skill>{});
    else out.errors.emplace(name, std::move(r.error()));
  }
  return out;
}

Result<Skill> Client::get_skill(const std::string& server, const std::string& uri, const RequestOptions& options) {
  auto s = session(server);
  if (!s) return fail(s.error());
  return (*s)->get_skill(uri, options);
}

Result<SkillFileContent> Client::load_skill(const std::string& server, const Skill& skill, const RequestOptions& options) {
  auto s = session(server);
  if (!s) return fail(s.error());
  return (*s)->load_skill(skill, options);
}

Result<SkillFileContent> Client::read_skill_file(const std::string& server, const Skill& skill, const std::string& uri,
                                                 const RequestOptions& options) {
  auto s = session(server);
  if (!s) return fail(s.error());
  return (*s)->read_skill_file(skill, uri, options);
}

Result<std::vector<Resource>> Client::read_directory(const std::string& server, const std::string& uri,
                                                     const RequestOptions& options) {
  auto s = session(server);
  if (!s) return fail(s.error());
  return (*s)->read_directory(uri, options);
}

void Client::start_read_resource(const std::shared_ptr<Impl>& impl, std::string server, std::string uri,
                                 RequestOptions options, Callback<ReadResourceResult> done) {
  if (!impl) return post_failure<ReadResourceResult>(nullptr, std::move(done), moved_from());
  auto s = impl->session(server);
  if (!s) return post_failure<ReadResourceResult>(impl->config.executor, std::move(done), std::move(s.error()));
  (*s)->async_read_resource(std::move(uri), std::move(options), std::move(done));
}

void Client::start_get_prompt(const std::shared_ptr<Impl>& impl, std::string server, std::string name,
                              std::map<std::string, std::string> arguments, RequestOptions options,
                              Callback<GetPromptResult> done) {
  if (!impl) return post_failure<GetPromptResult>(nullptr, std::move(done), moved_from());
  auto s = impl->session(server);
  if (!s) return post_failure<GetPromptResult>(impl->config.executor, std::move(done), std::move(s.error()));
  (*s)->async_get_prompt(std::move(name), std::move(arguments), std::move(options), std::move(done));
}

}  // namespace mcp
