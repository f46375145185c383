// SPDX-License-Identifier: MIT
// RFC 8252 loopback redirect listener (see <mcp/oauth_loopback.hpp>).
#include <mcp/oauth_loopback.hpp>

#include <httplib.h>

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

namespace mcp {
namespace {

// One listener; each authorize() call serves until one redirect arrives or time runs out.
class Listener {
 public:
  Result<int> bind(int port) {
    server_.set_keep_alive_max_count(1);
    // httplib's default adds SO_REUSEPORT, which would let a second listener share the port
    // (and receive our redirects): the port must be ours alone.
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    server_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) { on_request(req, res); });
    const int bound = port == 0 ? server_.bind_to_any_port("127.0.0.1") : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    if (bound <= 0)
      return fail(Errc::connection_failed,
                  "could not listen on 127.0.0.1:" + std::to_string(port) + " for the OAuth redirect");
    port_ = bound;
    // Serve from now on (requests outside an authorization get 409): a stop() that came
    // before the accept loop started would be lost, so wait for it to run.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return bound;
  }

  ~Listener() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  void set(std::string path, LoopbackOptions opts) {
    path_ = std::move(path);
    opts_ = std::move(opts);
  }

  Result<std::string> authorize(const std::string& url, std::stop_token stop) {
    std::lock_guard one(serial_);
    {
      std::lock_guard lk(m_);
      received_.reset();
      waiting_ = true;
    }
    Result<void> shown = opts_.open_url ? opts_.open_url(url) : show(url);
    if (!shown) {
      std::lock_guard lk(m_);
      waiting_ = false;
      return fail(shown.error());
    }
    std::unique_lock lk(m_);
    const bool got = cv_.wait_for(lk, stop, opts_.timeout, [&] { return received_.has_value(); });
    waiting_ = false;
    if (!got && stop.stop_requested())
      return fail(Errc::cancelled, "the authorization was abandoned before the redirect came");
    if (!got)
      return fail(Errc::timeout,
                  "no authorization redirect arrived on 127.0.0.1:" + std::to_string(port_) + path_ + " in time");
    return *received_;
  }

 private:
  static Result<void> show(const std::string& url) {
    std::cerr << "To authorize, open this URL in a browser:\n  " << url << "\n" << std::flush;
    return {};
  }

  void on_request(const httplib::Request& req, httplib::Response& res) {
    const std::string target = req.target.empty() ? req.path : req.target;
    if (req.path != path_) {
      res.status = 404;
      return;
    }
    std::lock_guard lk(m_);
    if (!waiting_ || received_) {
      res.status = 409;
      res.set_content("No authorization is in progress.\n", "text/plain");
      return;
    }
    received_ = "http://127.0.0.1:" + std::to_string(port_) + target;
    res.set_content("Authorization received; you can close this window.\n", "text/plain");
    cv_.notify_all();
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::string path_;
  LoopbackOptions opts_;
  std::mutex serial_;
  std::mutex m_;
  std::condition_variable_any cv_;  // waits on a stop_token too
  bool waiting_ = false;
  std::optional<std::string> received_;
};

}  // namespace

Result<LoopbackRedirect> loopback_redirect(LoopbackOptions options) {
  if (options.path.empty() || options.path[0] != '/')
    return fail(Errc::invalid_config, "the loopback redirect path must start with '/'");
  if (options.port < 0 || options.port > 65535)
    return fail(Errc::invalid_config, "the loopback port must be 0..65535");
  auto listener = std::make_shared<Listener>();
  auto port = listener->bind(options.port);
  if (!port) return fail(port.error());
  LoopbackRedirect out;
  out.redirect_uri = "http://127.0.0.1:" + std::to_string(*port) + options.path;
  std::string path = options.path;  // copied first: argument evaluation order is unspecified
  listener->set(std::move(path), std::move(options));
  out.authorize = [listener](const std::string& url, std::stop_token stop) {
    return listener->authorize(url, std::move(stop));
  };
  return out;
}

}  // namespace mcp
