// SPDX-License-Identifier: MIT
#pragma once
// Optional, header-only: mounts an mcp::HttpHost's endpoint into an application's own
// cpp-httplib server (https://github.com/yhirose/cpp-httplib, 0.11 or later), as Mastra's
// `startHTTP({req, res})` does for Node servers. Include it only where <httplib.h> is wanted;
// the library's other headers do not depend on httplib.
//
//   mcp::Server server({.identity = {.name = "demo", .version = "1.0.0"}});
//   ... server.add_tool(...) ...
//   mcp::HttpHost host(server, {.path = "/mcp"});
//   if (auto ok = host.start_mounted(); !ok) { ... ok.error().message ... }
//   httplib::Server app;                   // the application's server, with its own routes
//   app.Get("/health", ...);
//   mcp::mount_httplib(app, host);         // POST/GET/DELETE /mcp, GET /sse, POST /messages
//   app.listen("127.0.0.1", 8080);
//   ...
//   host.stop(); app.stop();             // the host first: it ends every exchange at once
//
// How it works: each request on the host's paths is handed to HttpHost::serve(); the
// httplib worker thread waits until the response starts (a JSON answer: until it is complete,
// that is until the handler answers), then writes an event stream through httplib's chunked
// content provider as the host's events come. httplib serves one request per worker thread
// (its thread pool, CPPHTTPLIB_THREAD_POOL_COUNT, at least 8): every request in flight and
// every open event stream holds one of them (the host's own threads are never held), so size
// that pool for the streams you expect. A client that leaves is seen once a write to it fails:
// an event stream is probed with an SSE comment line when it has been quiet for
// `probe_interval`; before a response starts (a JSON answer being computed) httplib gives no
// way to see it.
//
// Limits: the body limit is httplib's (Server::set_payload_max_length) and the host's
// (HttpServerOptions::max_body_bytes, 413); a stream's client that falls `max_queue_bytes`
// behind loses the stream. The process ignores SIGPIPE once the host starts (a write to a
// client that reset its connection fails instead).
//
// Thread-safety: mount_httplib() before app.listen(); the routes run on httplib's threads.
// Stop the host first (every exchange ends, open streams and JSON answers still computed
// included; later requests get 503), then the application server, which waits for its
// worker threads; the host object must outlive the application server's serving.
#include <mcp/server_http.hpp>

#include <httplib.h>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcp {

/// How mount_httplib() serves the host's paths.
struct HttplibMountOptions {
  /// Bytes of an event stream waiting for the client at most; beyond that the stream is
  /// dropped (the host treats it as a client that left).
  std::size_t max_queue_bytes = 1u << 20;
  /// A quiet event stream gets an SSE comment line this often, to see a client that left.
  std::chrono::milliseconds probe_interval{1000};
};

namespace httplib_detail {

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// httplib route patterns are regular expressions: a path matches itself only.
inline std::string exact_pattern(std::string_view path) {
  std::string out;
  for (char c : path) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// One exchange's response, between the host's I/O thread (the sink) and httplib's worker.
struct Exchange {
  std::mutex m;
  std::condition_variable cv;
  bool started = false, stream = false, ended = false, gone = false;
  int status = 500;
  std::vector<HttpHeader> headers;
  std::string body;                // a whole response
  std::deque<std::string> queue;   // a stream's bytes not yet written
  std::size_t queued = 0;
};

class Sink final : public HttpResponseSink {
 public:
  Sink(std::shared_ptr<Exchange> x, std::size_t max_queue) : x_(std::move(x)), max_queue_(max_queue) {}
  void start(int status, const std::vector<HttpHeader>& headers, bool stream) override {
    std::lock_guard lk(x_->m);
    x_->started = true;
    x_->status = status;
    x_->headers = headers;
    x_->stream = stream;
    x_->cv.notify_all();
  }
  bool write(std::string_view bytes) override {
    std::lock_guard lk(x_->m);
    if (x_->gone) return false;
    if (!x_->stream) {
      x_->body.append(bytes);
      return true;
    }
    if (x_->queued + bytes.size() > max_queue_) {
      x_->gone = true;  // too far behind: the stream is dropped
      x_->cv.notify_all();
      return false;
    }
    x_->queued += bytes.size();
    x_->queue.emplace_back(bytes);
    x_->cv.notify_all();
    return true;
  }
  void end() override {
    std::lock_guard lk(x_->m);
    x_->ended = true;
    x_->cv.notify_all();
  }

 private:
  std::shared_ptr<Exchange> x_;
  std::size_t max_queue_;
};

inline void serve(HttpHost& host, const HttplibMountOptions& opt, const httplib::Request& req, httplib::Response& res) {
  MountedRequest m;
  m.method = req.method;
  m.target = req.target.empty() ? req.path : req.target;
  for (const auto& [k, v] : req.headers) m.headers.emplace_back(k, v);
  m.body = req.body;
  auto x = std::make_shared<Exchange>();
  auto gone = host.serve(std::move(m), std::make_shared<Sink>(x, opt.max_queue_bytes));
  std::unique_lock lk(x->m);
  // The host always starts and ends the response (also when it stops).
  x->cv.wait(lk, [&] { return x->started && (x->stream || x->ended); });
  res.status = x->status;
  std::string content_type;
  for (const auto& [k, v] : x->headers) {
    if (iequals(k, "Content-Type")) content_type = v;
    else res.set_header(k, v);
  }
  if (!x->stream) {
    if (content_type.empty() && x->body.empty()) return;  // 200/202 without a body
    res.set_content(std::move(x->body), content_type);
    return;
  }
  const auto probe = opt.probe_interval;
  res.set_chunked_content_provider(
      content_type,
      [x, gone, probe](std::size_t, httplib::DataSink& sink) {
        std::unique_lock lk(x->m);
        x->cv.wait_for(lk, probe, [&] { return !x->queue.empty() || x->ended || x->gone; });
        if (x->gone) return false;  // dropped (too far behind): the connection ends
        if (!x->queue.empty()) {
          auto out = std::move(x->queue);
          x->queue.clear();
          x->queued = 0;
          lk.unlock();
          for (const auto& bytes : out)
            if (!sink.write(bytes.data(), bytes.size())) {
              gone();
              return false;
            }
          return true;
        }
        if (x->ended) {
          lk.unlock();
          sink.done();
          return true;
        }
        lk.unlock();
        if (!sink.write(":\n\n", 3)) {  // quiet: is the client still there?
          gone();
          return false;
        }
        return true;
      },
      [x, gone](bool success) {
        if (success) return;
        {
          std::lock_guard lk(x->m);
          x->gone = true;
        }
        gone();  // the client left (or the app server stopped) before the stream ended
      });
}

}  // namespace httplib_detail

/// Routes `host`'s endpoint into `app`: POST, GET and DELETE on HttpServerOptions::path, and
/// (unless sse_path is empty) GET on sse_path and POST on sse_message_path, and with
/// HttpServerOptions::auth the metadata's well-known paths (GET), each handed to
/// HttpHost::serve(). The host must be started (HttpHost::start_mounted(), or start()).
/// Exact paths only (httplib matches the whole path; a query is passed on).
inline void mount_httplib(httplib::Server& app, HttpHost& host, HttplibMountOptions opt = {}) {
  const auto& o = host.options();
  auto route = [&host, opt](const httplib::Request& req, httplib::Response& res) { httplib_detail::serve(host, opt, req, res); };
  const auto path = httplib_detail::exact_pattern(o.path);
  app.Post(path, route);
  app.Get(path, route);
  app.Delete(path, route);
  if (!o.sse_path.empty()) {
    app.Get(httplib_detail::exact_pattern(o.sse_path), route);
    app.Post(httplib_detail::exact_pattern(o.sse_message_path), route);
  }
  // An OAuth-protected endpoint's metadata (RFC 9728), at both well-known paths.
  if (o.auth.enabled() && !o.auth.metadata.resource.empty())
    if (auto md = protected_resource_metadata_path(o.auth.metadata.resource)) {
      app.Get(httplib_detail::exact_pattern(*md), route);
      if (*md != "/.well-known/oauth-protected-resource")
        app.Get(httplib_detail::exact_pattern("/.well-known/oauth-protected-resource"), route);
    }
}

}  // namespace mcp
