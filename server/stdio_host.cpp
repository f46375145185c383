// SPDX-License-Identifier: MIT
// Serving one client over stdio: newline-delimited JSON-RPC on two descriptors. The calling
// thread reads; answers and notifications are written whole, one at a time, from whichever
// thread has them (handler threads, the reader).
#include "server_impl.hpp"

#include "../lib/protocol/json_read.hpp"
#include "../lib/protocol/json_write.hpp"
#include "../lib/protocol/jsonrpc.hpp"
#include "../lib/protocol/rpc_engine.hpp"
#include "../lib/read_buffer.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <map>
#include <optional>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mcp {

namespace sd = server_detail;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The descriptor answers are written to, so that a write can wait within a deadline instead of
// blocking for as long as the client does not read. A pipe is opened again, non-blocking, as
// a description of our own (O_NONBLOCK on the inherited one would reach whoever shares it); a
// socket is written with MSG_DONTWAIT. Anything else (a file, a terminal) is written as is.
struct OutFd {
  int fd = -1;
  int owned = -1;
  bool socket = false;
  explicit OutFd(int out_fd) : fd(out_fd) {
    struct stat st {};
    if (::fstat(out_fd, &st) != 0) return;
    if (S_ISSOCK(st.st_mode)) {
      socket = true;
    } else if (S_ISFIFO(st.st_mode)) {
      const std::string path = "/proc/self/fd/" + std::to_string(out_fd);
      owned = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (owned >= 0) fd = owned;
    }
  }
  ~OutFd() { close(); }
  void close() {
    if (owned >= 0) ::close(owned);
    owned = -1;
  }
  OutFd(const OutFd&) = delete;
  OutFd& operator=(const OutFd&) = delete;
};

class StdioChannel final : public detail::RpcEngine, public sd::Connection {
 public:
  StdioChannel(int out_fd, std::chrono::milliseconds write_timeout, detail::DiagnosticSink diag)
      : detail::RpcEngine(Options{"client", std::move(diag), {}, nullptr}),
        out_(out_fd),
        out_fd_(out_.fd),
        socket_(out_.socket),
        write_timeout_(write_timeout) {}
  ~StdioChannel() override { RpcEngine::close(Error::make(Errc::connection_closed, "the client went away")); }

  void respond(const json& id, Result<json> r) override {
    // A result is written as it is (no message object built around it), unless its request
    // is part of a batch (whose answers go out together: write()).
    if (r) {
      bool batched = false;
      {
        std::lock_guard lk(batch_m_);
        batched = !batched_.empty() && batched_.count(id.dump());
      }
      std::string text;
      if (!batched && sd::append_result_message(text, id, *r)) {
        text += '\n';
        if (auto sent = write_text(text, Clock::now() + 10s); !sent)
          diagnose("could not answer a server request: " + sent.error().message, {detail::log_request_id(id), {}});
        return;
      }
    }
    RpcEngine::respond(id, std::move(r));
  }
  Result<void> notify(const json& /*about*/, const std::string& method, json params) override {
    return RpcEngine::notify(method, std::move(params), Clock::now() + 10s);
  }
  Result<json> request(const json& /*about*/, const std::string& method, json params, std::stop_token stop,
                       Clock::time_point deadline) override {
    struct Writer final : RequestWriter {
      StdioChannel& channel;
      Clock::time_point deadline;
      Writer(StdioChannel& c, Clock::time_point d) : channel(c), deadline(d) {}
      Result<void> write(const json& message) override { return channel.write(message, deadline); }
    } writer(*this, deadline);
    auto pending = send_lent(method, params, deadline, {}, writer);
    if (!pending) return fail(std::move(pending.error()));
    return wait(*pending, deadline, stop);
  }
  // A message from the client, checked as JSON-RPC (what the engine would only ignore is
  // answered with the error JSON-RPC names for it).
  void take(std::string_view line, std::size_t max_values) {
    detail::JsonRefusal why = detail::JsonRefusal::none;
    json msg = detail::parse_json(line, &why, max_values);
    if (msg.is_discarded())
      return reply_error(nullptr, jsonrpc::parse_error, "Parse error: the message " + detail::describe(why, max_values));
    if (msg.is_array()) return take_batch(std::move(msg));
    if (auto bad = check(msg)) return reply_error(bad->id, jsonrpc::invalid_request, std::move(bad->message));
    if (msg.contains("method")) forget_cancelled(msg);
    receive(std::move(msg));
  }
  void reply_error(const json& id, int code, std::string message) {
    respond(id, fail(jsonrpc::error(Errc::invalid_message, code, std::move(message))));
  }

  struct Refusal {
    json id;  // what the error answer names (null when the id itself is bad)
    std::string message;
  };
  // What is wrong with one message (an object, else nothing to say).
  static std::optional<Refusal> check(const json& msg) {
    if (!msg.is_object()) return Refusal{nullptr, "Invalid Request: not a JSON object"};
    const auto id = msg.find("id");
    const bool id_ok = id != msg.end() && (id->is_string() || id->is_number_integer());
    const json reply_id = id_ok ? *id : json();
    const auto version = msg.find("jsonrpc");
    if (version == msg.end() || *version != "2.0") return Refusal{reply_id, "Invalid Request: jsonrpc must be \"2.0\""};
    const auto method = msg.find("method");
    if (method != msg.end()) {
      if (!method->is_string()) return Refusal{reply_id, "Invalid Request: method must be a string"};
      if (id != msg.end() && !id_ok) return Refusal{nullptr, "Invalid Request: id must be a string or an integer"};
    }
    return std::nullopt;
  }

  // A JSON-RPC batch: 2025-03-26 only (25/basic: implementations MUST accept them; 2025-06-18
  // removed them). Its answers go out as one array once every request of it is answered;
  // notifications and the client's answers in it get none; an element that is not valid
  // JSON-RPC gets its error in the array. Empty: one Invalid Request error.
  void take_batch(json batch) {
    std::string version;
    bool initialized_now = false;
    {
      std::lock_guard lk(m);
      initialized_now = initialized;
      version = legacy_version;
    }
    if (!initialized_now || version != "2025-03-26")
      return reply_error(nullptr, jsonrpc::invalid_request,
                         "Invalid Request: batches are part of protocol revision 2025-03-26 only" +
                             (initialized_now ? "; this session is at " + version : std::string(" (initialize first, alone)")));
    if (batch.empty()) return reply_error(nullptr, jsonrpc::invalid_request, "Invalid Request: an empty batch");
    auto b = std::make_shared<Batch>();
    std::vector<json> accepted;
    {
      std::lock_guard lk(batch_m_);
      for (auto& msg : batch) {
        if (auto bad = check(msg)) {
          b->answers.push_back(error_message(bad->id, std::move(bad->message)));
          continue;
        }
        const auto method = msg.find("method");
        const auto id = msg.find("id");
        if (method != msg.end() && id != msg.end()) {
          if (*method == "initialize") {
            b->answers.push_back(error_message(*id, "Invalid Request: initialize must not be part of a batch"));
            continue;
          }
          if (!batched_.emplace(id->dump(), b).second) {
            b->answers.push_back(error_message(*id, "Invalid Request: the request id is in flight already"));
            continue;
          }
          ++b->left;
        }
        accepted.push_back(std::move(msg));
      }
    }
    for (auto& msg : accepted) {
      if (msg.contains("method")) forget_cancelled(msg);
      receive(std::move(msg));
    }
    std::lock_guard lk(batch_m_);
    b->dispatched = true;
    flush_if_done(*b);
  }
  void forget_cancelled(const json& msg) {
    // A request of a batch that the client cancels is not answered: the batch goes without it.
    if (msg["method"] != "notifications/cancelled" || !msg.contains("params") || !msg["params"].is_object() ||
        !msg["params"].contains("requestId"))
      return;
    std::lock_guard lk(batch_m_);
    const auto it = batched_.find(msg["params"]["requestId"].dump());
    if (it == batched_.end()) return;
    auto b = it->second;
    batched_.erase(it);
    --b->left;
    flush_if_done(*b);
  }

  // Nothing more is written; our own descriptor is closed once no write is under way (a
  // handler's late answer must never reach a descriptor number the process reused).
  void end(const Error& why) {
    RpcEngine::close(why);
    std::lock_guard lk(write_mutex_);
    broken_ = true;
    out_.close();
  }
  // The client stopped reading (a write timed out): nothing more is sent or served.
  bool stalled() const { return stalled_.load(std::memory_order_relaxed); }

 protected:
  Result<void> write(const json& message, Clock::time_point deadline) override {
    if (!message.contains("method") && message.contains("id")) {
      // The answer to a request of a batch waits for the batch's other answers.
      std::lock_guard lk(batch_m_);
      if (auto it = batched_.find(message["id"].dump()); it != batched_.end()) {
        auto b = it->second;
        batched_.erase(it);
        b->answers.push_back(message);
        --b->left;
        flush_if_done(*b);
        return {};
      }
    }
    return write_now(message, deadline);
  }
  Result<void> write_now(const json& message, Clock::time_point deadline) {
    std::string text;
    if (!detail::append_json(text, message)) return fail(Errc::invalid_argument, detail::too_deep_to_send_text());
    text += '\n';
    return write_text(text, deadline);
  }
  // One message's text (with its newline), written within the deadline (else the stream is given up).
  Result<void> write_text(const std::string& text, Clock::time_point deadline) {
    deadline = std::min(deadline, Clock::now() + write_timeout_);
    std::lock_guard lk(write_mutex_);
    if (stalled()) return fail(Errc::timeout, "the client does not read its input");
    if (broken_) return fail(Errc::io_error, "the client's input is closed");
    std::size_t off = 0;
    while (off < text.size()) {
      const ssize_t n = socket_ ? ::send(out_fd_, text.data() + off, text.size() - off, MSG_DONTWAIT | MSG_NOSIGNAL)
                                : ::write(out_fd_, text.data() + off, text.size() - off);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        pollfd p{out_fd_, POLLOUT, 0};
        if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
          // Part of a message may be out: the stream is no longer whole, so nothing more goes.
          stalled_.store(true, std::memory_order_relaxed);
          return fail(Errc::timeout, "the client does not read its input");
        }
        continue;
      }
      broken_ = true;  // EPIPE (the client closed its end), or worse: nothing more goes out
      return fail(Errc::io_error, std::string("writing to the client failed: ") + std::strerror(errno));
    }
    return {};
  }
  void close_channel() override {}

 private:
  struct Batch {
    std::vector<json> answers;
    std::size_t left = 0;     // requests not answered yet
    bool dispatched = false;  // every element was handed on
  };
  static json error_message(const json& id, std::string message) {
    return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", jsonrpc::invalid_request}, {"message", std::move(message)}}}};
  }
  // Under batch_m_: the batch's array goes out once all its answers are in (none when it held
  // only notifications and answers). Lost as any answer is when the client is gone.
  void flush_if_done(Batch& b) {
    if (!b.dispatched || b.left != 0 || b.answers.empty()) return;
    json all = json::array();
    for (auto& a : b.answers) all.push_back(std::move(a));
    b.answers.clear();
    (void)write_now(all, Clock::now() + 10s);
  }

  std::mutex batch_m_;  // taken before write_mutex_: held while a batch's array is written
  std::map<std::string, std::shared_ptr<Batch>> batched_;  // the batched requests not answered yet, by id
  OutFd out_;
  int out_fd_;
  bool socket_;
  std::chrono::milliseconds write_timeout_;
  std::mutex write_mutex_;
  bool broken_ = false;
  std::atomic<bool> stalled_{false};
};

}  // namespace

Result<void> Server::serve_stdio() { return serve_stdio(STDIN_FILENO, STDOUT_FILENO); }

Result<void> Server::serve_stdio(int in_fd, int out_fd) {
  // A client that closes its end must not kill the server with SIGPIPE on the next answer:
  // the write fails with EPIPE instead. Only when the application left the default action.
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);

  auto impl = impl_;
  auto channel = std::make_shared<StdioChannel>(out_fd, impl->options.write_timeout, impl->diagnostics);
  std::shared_ptr<sd::Connection> conn(channel, static_cast<sd::Connection*>(channel.get()));
  std::weak_ptr<sd::Connection> weak = conn;
  impl->add_connection(conn);
  channel->set_request_dispatcher([impl, weak](json id, std::string method, json params) {
    if (auto c = weak.lock()) impl->dispatch(c, std::move(id), std::move(method), std::move(params));
  });
  channel->set_notification_handler([impl, weak](const std::string& method, const json& params) {
    if (auto c = weak.lock()) impl->notification(c, method, params);
  });

  const std::size_t max_bytes = impl->options.max_message_bytes;
  const std::size_t max_values = detail::max_json_values(max_bytes);
  detail::ReadBuffer buffer;
  std::string line;
  bool skipping = false;  // inside a line over the limit: dropped up to its newline
  bool dropped = false;   // the client stalled: everything it sends is dropped
  Result<void> outcome;
  for (;;) {
    const ssize_t n = ::read(in_fd, buffer.data(), detail::ReadBuffer::kSize);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      outcome = fail(Errc::io_error, std::string("reading from the client failed: ") + std::strerror(errno));
      break;
    }
    if (n == 0) break;  // the client closed our input: done
    if (channel->stalled()) {
      // The client does not read what we send: its requests are read and dropped until it
      // closes its end; what was running is cancelled once.
      if (!dropped) {
        dropped = true;
        impl->diagnose("the client does not read its input: its requests are no longer served");
        Impl::close(*conn);
      }
      continue;
    }
    std::string_view chunk(buffer.data(), static_cast<std::size_t>(n));
    while (!chunk.empty()) {
      const auto nl = chunk.find('\n');
      const std::string_view part = chunk.substr(0, nl);
      if (!skipping) {
        if (line.size() + part.size() > max_bytes) {
          skipping = true;
          line.clear();
          line.shrink_to_fit();
          channel->reply_error(nullptr, jsonrpc::invalid_request,
                               "Invalid Request: the message is longer than " + std::to_string(max_bytes) + " bytes");
          impl->diagnose("skipped a message over the size limit");
        } else {
          line.append(part);
        }
      }
      if (nl == std::string_view::npos) break;
      chunk.remove_prefix(nl + 1);
      if (skipping) {
        skipping = false;
        continue;
      }
      std::string_view text = line;
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      if (text.find_first_not_of(" \t") != std::string_view::npos) channel->take(text, max_values);
      line.clear();
    }
  }
  // The client closed our input: what is running may still answer within the grace (a script
  // that pipes requests in and closes), then it is stopped; we return once every handler has.
  {
    std::unique_lock lk(conn->m);
    conn->idle.wait_for(lk, impl->options.shutdown_grace, [&] { return conn->running.empty(); });
  }
  Impl::close(*conn);
  {
    std::unique_lock lk(conn->m);
    conn->idle.wait(lk, [&] { return conn->running.empty(); });
  }
  channel->end(Error::make(Errc::connection_closed, "the client closed its input"));
  if (outcome && channel->stalled())
    return fail(Errc::timeout, "the client did not read its input for " + std::to_string(impl->options.write_timeout.count()) +
                                   " ms; its requests were dropped");
  return outcome;
}

}  // namespace mcp
