// SPDX-License-Identifier: MIT
#pragma once
/// @file config.hpp
/// Configuration structs for servers and clients. Plain aggregates with commented defaults.
///
/// Thread-safety: plain value types. Callbacks stored in them may be called from
/// the SDK's internal threads (documented at each one).

#include <mcp/auth.hpp>
#include <mcp/error.hpp>
#include <mcp/log.hpp>
#include <mcp/types.hpp>
#include <mcp/version.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mcp {

class HttpConnectionShare;  // <mcp/http_connections.hpp>

using Milliseconds = std::chrono::milliseconds;  ///< the durations of the options (timeouts, TTLs)

/// What to do with a stdio server's stderr.
enum class StderrMode {
  capture,  ///< read it line by line: kept as a tail for error reports, passed to `on_stderr`
  inherit,  ///< the child writes to our stderr
  ignore,   ///< redirected to /dev/null
};

/// A server spawned as a subprocess and spoken to over stdin/stdout.
struct StdioServerConfig {
  std::string command;                           ///< executable; searched in PATH if it has no '/'
  std::vector<std::string> args;                 ///< arguments (no shell involved)
  std::map<std::string, std::string> env;        ///< added to (and overriding) the base environment
  /// false (default): the child gets only HOME, LOGNAME, PATH, SHELL, TERM, USER from our
  /// environment plus `env`; true: our whole environment plus `env`.
  bool inherit_env = false;
  std::optional<std::string> cwd;                ///< working directory (default: ours)
  StderrMode stderr_mode = StderrMode::capture;  ///< default: capture
  /// Called for every stderr line in `capture` mode, from an SDK thread. Keep it quick.
  /// What it throws is ignored.
  std::function<void(std::string_view server, std::string_view line)> on_stderr;
  std::size_t stderr_tail_lines = 20;            ///< lines kept for error reports
  /// One incoming line may be this large (32 MiB). A message also holds at most one JSON value
  /// per 16 bytes of this (at least 1 Mi values) and nests at most 128 levels: what it costs in
  /// memory stays a few times this, whatever its text. Raise it for larger messages.
  std::size_t max_message_bytes = 32u << 20;
  /// stdin closed -> wait this long -> SIGTERM -> wait this long -> SIGKILL (process group).
  Milliseconds shutdown_grace{2000};
};

/// Which HTTP transport to use for a remote server.
enum class HttpTransportKind {
  automatic,        ///< Streamable HTTP, falling back to legacy HTTP+SSE where the spec says
  streamable_http,  ///< Streamable HTTP only
  sse,              ///< legacy 2024-11-05 HTTP+SSE only
};

/// A remote server over HTTP.
struct HttpServerConfig {
  std::string url;                               ///< endpoint URL (http:// or https://)
  /// Sent on every HTTP request of this server: POSTs, GET streams, the legacy SSE stream, DELETE.
  std::map<std::string, std::string> headers;
  /// Called before every HTTP request (from SDK threads); what it returns is added to, and
  /// overrides, `headers`. For credentials that change at run time. If it throws, that
  /// request fails with `Errc::unauthorized` (the message says what it threw).
  std::function<std::map<std::string, std::string>()> header_provider;
  /// Credentials: a bearer token, a per-request callback, or the OAuth client of
  /// <mcp/oauth.hpp>. Its `Authorization` goes on every request (POST, streams, DELETE) and
  /// overrides one from `headers`/`header_provider`; a 401 or 403 is handed to it, and the
  /// request is sent again when it has new credentials (at most 6 times per request).
  /// With a provider set, HTTP redirects are not followed, so the token never leaves the
  /// configured origin. Null (default): no authorization.
  std::shared_ptr<AuthProvider> auth;
  HttpTransportKind transport = HttpTransportKind::automatic;  ///< default: detect
  Milliseconds connect_timeout{3000};            ///< TCP/TLS connect timeout (3 s)
  bool verify_tls = true;                        ///< verify the server certificate (https)
  std::string ca_file;                           ///< CA bundle file (default: system store)
  std::string ca_dir;                            ///< CA directory (default: system store)
  /// One JSON body or SSE event may be this large (32 MiB); values and nesting are capped as
  /// for StdioServerConfig::max_message_bytes.
  std::size_t max_message_bytes = 32u << 20;
  /// Requests in flight at once on connections to this server (each takes one, and a flight
  /// thread while its exchange runs). Requests beyond wait their turn, first come first
  /// served, within their own timeout, holding no thread. A request reuses an idle kept-alive
  /// connection when there is one; a new connection is opened only when none is idle. The
  /// long-lived streams (GET) and `notifications/cancelled` are not counted. Default 64:
  /// 1,000 calls of 1 s at once take about 16 s (1,000 / 64), within the default 60 s request
  /// timeout; raise it for more long calls at once.
  std::size_t max_connections = 64;
  /// Connections being opened (TCP connect, and the TLS handshake for https) at once to this
  /// server by the requests above. A request that needs a new connection while this many are
  /// being opened waits in the same line, holding no thread, and takes the first connection
  /// released or attempt ended: a burst opens connections a few at a time instead of
  /// overflowing the server's listen queue ("connect timed out"). Default 4.
  std::size_t max_connecting = 4;
  int max_reconnect_attempts = 5;                ///< resuming a broken legacy stream
  Milliseconds max_reconnect_delay{30000};       ///< cap on the resumption backoff
  /// Keep-alive connections shared with the other clients given the same share (see
  /// <mcp/http_connections.hpp>): a modern (2026-07-28) server's requests then take one of the
  /// share's connections to this origin (its caps apply instead of max_connections and
  /// max_connecting), each carrying this client's own headers and credentials. A legacy
  /// session, its streams and `subscriptions/listen` keep to this client's own connections.
  /// Null (default): every connection is this client's own.
  std::shared_ptr<HttpConnectionShare> connection_share;
};

/// What the client answers when servers ask something of it, and the callbacks for what
/// servers report. One set of handlers serves both eras: legacy servers send requests,
/// modern servers return `input_required` results that the SDK fulfils and retries.
/// A handler that is not set is not declared as a capability. The handlers for what a
/// server sends (all but approve_tool_call, which runs on the calling thread) run on a worker
/// thread per connection, one at a time in the order the messages came, never on a thread
/// reading the transport: they may block and may call the server. A call returns after the
/// handlers for what preceded its reply. Each receives the server's configured name.
struct ClientHandlers {
  /// `elicitation/create`. In form mode, schema defaults are filled in for fields the
  /// handler leaves out of an accepted answer.
  std::function<Result<ElicitResult>(const std::string& server, const ElicitRequest& request)> elicitation;
  /// `sampling/createMessage`: the request params in, a CreateMessageResult out.
  std::function<Result<nlohmann::json>(const std::string& server, const nlohmann::json& params)> sampling;
  /// `roots/list`: the roots this server may see.
  std::function<std::vector<Root>(const std::string& server)> roots;
  /// `notifications/message` (server logs).
  std::function<void(const std::string& server, const LogMessage& message)> on_log;
  /// List changes and resource updates.
  std::function<void(const std::string& server, const ChangeEvent& event)> on_change;
  /// Consulted before every tool call, however the tool was reached (list_tools(),
  /// list_toolsets(), call_tool()). Returning false fails the call with Errc::call_denied.
  std::function<bool(const std::string& server, const std::string& tool, const nlohmann::json& arguments)>
      approve_tool_call;
};

/// W3C trace context for a request, sent in its `_meta` under the reserved keys `traceparent`,
/// `tracestate` and `baggage` (2026-07-28 basic/index "OpenTelemetry trace context"; sent to
/// servers of every era and transport alike). An empty member is not sent. Checked before it is
/// sent: `traceparent` as W3C Trace Context (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero,
/// lower case), `tracestate` as its list of at most 32 `key=value` members, `baggage` as W3C
/// Baggage (`key=value[;property]`, at most 8192 bytes).
struct TraceContext {
  std::string traceparent;  ///< e.g. `00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01`
  std::string tracestate;   ///< e.g. `congo=t61rcWkgMzE,rojo=00f067aa0ba902b7` (sent only with a traceparent)
  std::string baggage;      ///< e.g. `userId=alice,serverNode=DF%2028`
};

/// One request's start or end, for ClientConfig::on_request (metrics, tracing spans).
struct RequestEvent {
  /// Which event this is.
  enum class Phase { start, end };
  /// How a request ended.
  enum class Outcome {
    ok,         ///< a result (a tool's `isError` result included)
    error,      ///< any other failure: `error` says which (`error->rpc_code` for the server's code)
    timeout,    ///< Errc::timeout
    cancelled,  ///< Errc::cancelled (RequestOptions::stop, an Asio cancellation)
  };
  Phase phase = Phase::start;  ///< start or end of the request
  std::uint64_t id = 0;         ///< the same at a request's start and end; unique in the process
  std::string_view server;      ///< the configured name
  std::string_view method;      ///< e.g. `tools/call`
  Era era = Era::unknown;       ///< at start: as known then (unknown before the first connection)
  std::chrono::nanoseconds duration{0};  ///< end only: from start to end
  Outcome outcome = Outcome::ok;         ///< end only
  const Error* error = nullptr;          ///< end only, when the outcome is not ok
};

/// One server of a client.
struct ServerConfig {
  std::variant<StdioServerConfig, HttpServerConfig> transport;  ///< how to reach it
  /// Pin the era instead of probing (Era::unknown = detect).
  Era era = Era::unknown;
  /// Pin a protocol revision (implies its era). Empty = newest we both speak.
  std::optional<std::string> protocol_version;
  std::optional<Milliseconds> request_timeout;   ///< overrides the client's default
  std::optional<Milliseconds> probe_timeout;     ///< overrides the client's default
};

/// A client: any number of named servers.
struct ClientConfig {
  /// Distinguishes clients whose server configs are identical: see `refuse_duplicate`.
  std::optional<std::string> id;
  /// Client::create() refuses this client (Errc::duplicate_client) while another live client
  /// has an identical configuration and the same `id` (or none): two such clients are almost
  /// always a leak, a client built per request and never disconnected, each keeping its own
  /// server processes and connections. "Live" is from create() until disconnect() or
  /// destruction; a call after disconnect() reconnects without being checked again. False:
  /// neither checked nor counted (ClientPool sets it: the pool owns its clients' lifetimes).
  bool refuse_duplicate = true;
  std::map<std::string, ServerConfig> servers;   ///< name -> server
  Implementation client_info{"mcp-cpp", version_string, std::nullopt, nullptr, {}};  ///< sent to servers
  Milliseconds request_timeout{60000};           ///< default per-request timeout (60 s)
  /// How long the era probe (`server/discover`) may take before we assume a legacy server.
  /// The clock starts when the probe is sent, after the process is spawned.
  Milliseconds probe_timeout{5000};
  /// Diagnostics that are not errors (non-JSON lines on stdout, unmatched replies, ...).
  /// Called from SDK threads. What it throws is ignored. Each is also given to `on_log` (as a
  /// LogKind::diagnostic event at LogLevel::warning) when that is set: set either or both.
  std::function<void(std::string_view server, std::string_view message)> on_diagnostic;
  /// The structured logging hook (<mcp/log.hpp>): every diagnostic, every stderr line of a stdio
  /// server in StderrMode::capture (LogKind::server_stderr, LogLevel::debug; `on_stderr` is
  /// called too), and the connection events (connected, reconnected, era_detected,
  /// fell_back_to_sse, session_reinitialized, connection_lost, disconnected), each with its
  /// server, era, transport and protocol version where known. Called from any thread,
  /// concurrently: a connection's events on the thread that opened or closed it (a caller's,
  /// or a library thread for an asynchronous call), diagnostics and stderr lines on the
  /// library's reader and worker threads. Must be quick and thread-safe; what it throws is
  /// caught and dropped. Credentials never reach it (see LogEvent). Empty (default): nothing is
  /// built for it, and nothing is written anywhere that is not written today.
  LogHook on_log;
  /// Handlers for server requests, logs, changes and tool-call approval.
  ClientHandlers handlers;
  /// Minimum level of server logs wanted (legacy: logging/setLevel after connecting; modern:
  /// sent with every request). Empty: none requested.
  std::string log_level;
  /// Cap on input_required rounds for one request (modern multi round-trip requests).
  int max_input_rounds = 8;
  /// Where the asynchronous API (`async_*`) runs completion handlers and progress callbacks:
  /// each is handed to this function as a task to run. Empty: on the library's own threads (the
  /// reader of the reply, or its timer thread), where a handler must not block and must not
  /// make blocking calls (those fail with Errc::invalid_argument). Asio completion tokens
  /// (mcp/asio.hpp) go to their own executor either way. It must queue the task to run later
  /// (as `asio::post` does), never run it inside the call, and must not hold a lock that this
  /// function takes while it runs or destroys a task: a task may own the last reference to a
  /// session, whose closing waits for the library thread that may be handing it a task.
  std::function<void(std::function<void()>)> executor;
  /// The current span's trace context, asked for each request as it is sent (from the thread
  /// that sends it: the caller's, or a library thread when a connection had first to be opened
  /// or an input round answered), with the server's name and the method. Must be thread-safe.
  /// RequestOptions::trace, when set, is sent instead and this is not called. What it returns
  /// is checked (see TraceContext): a malformed member is not sent (a malformed traceparent
  /// takes its tracestate with it) and is reported through `on_diagnostic`; what it throws is
  /// reported likewise and the request goes without trace context. Empty (default): none.
  std::function<std::optional<TraceContext>(std::string_view server, std::string_view method)> trace_context;
  /// Called at the start and at the end of every request the API makes (each page of a listing
  /// and each tool call counts once, however many input rounds or retries it takes; the
  /// handshakes do not count), with the server, method, era, and at the end its duration and
  /// outcome. For bridging to OpenTelemetry or metrics (libmcp depends on neither). Called from
  /// any thread, concurrently: the blocking API calls both on the calling thread; the
  /// asynchronous API calls the start on the caller's thread and the end where the completion
  /// runs, before it. Must be quick and thread-safe; what it throws is ignored. Empty
  /// (default): costs nothing.
  std::function<void(const RequestEvent&)> on_request;
  /// Declare the tasks extension (`io.modelcontextprotocol/tasks`, 2026-07-28) on every request:
  /// a server may then answer a tool call with a task, which the client follows (tasks/get at
  /// the server's poll interval, input answered with tasks/update through `handlers`,
  /// tasks/cancel on cancellation or timeout) until its result. False: not declared, and a
  /// tool whose task support is "required" cannot be called.
  bool tasks = true;
};

/// Parse a `{"mcpServers": {name: {command, args, env, cwd} | {url, headers}}}` document
/// (the common format of MCP client configuration files).
[[nodiscard]] Result<ClientConfig> parse_client_config(const nlohmann::json& doc);

/// Parse a command line such as `node server.js --flag "a b"` into a stdio server config
/// (whitespace splits, single and double quotes group, backslash escapes; no shell).
[[nodiscard]] Result<StdioServerConfig> parse_stdio_command(std::string_view command_line);

}  // namespace mcp
