// The lean HTTP/1.1 client's connection against raw sockets on 127.0.0.1 (stale keep-alive,
// stop, timeouts, read buffers). The response parser alone: test/unit/test_http1_parser.cpp.
#include "../../lib/http1.hpp"  // private headers: lib/ is not on the public include path
#include "../../lib/read_buffer.hpp"
#include "helpers.hpp"
#include "raw_server.hpp"

#include <mcp/client.hpp>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace h1 = mcp::detail::http1;

namespace {

using testutil::Conn;
using testutil::RawServer;

h1::Outcome post(h1::Connection& c, std::string& body, std::chrono::microseconds timeout = 5s) {
  body.clear();
  const std::string head = "POST /mcp HTTP/1.1\r\nHost: " + c.host_header() + "\r\nContent-Length: 2\r\n\r\n";
  return c.exchange(head, "{}", false, timeout, nullptr, [&](const char* d, std::size_t n) {
    body.append(d, n);
    return true;
  });
}

}  // namespace

TEST_CASE("http1 connection: keep-alive reuse, a stale connection, stop, timeout, refusal") {
  const std::size_t fds_before = testutil::open_fds();
  {
    // Two answers per connection, then the server closes it without saying so.
    RawServer server([](Conn& c) {
      for (int i = 0; i < 2 && c.read_request(); ++i)
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok-" + std::to_string(i));
    });
    h1::Connection c("127.0.0.1", server.port(), 2s);
    std::string body;
    auto o = post(c, body);
    REQUIRE(o.ok());
    CHECK(body == "ok-0");
    CHECK(c.reusable());
    o = post(c, body);
    REQUIRE(o.ok());
    CHECK(body == "ok-1");
    CHECK(server.accepted() == 1);
    // The server has closed it: the write may succeed, but no response starts. That is what
    // lets the transport send the request again on a fresh connection.
    std::this_thread::sleep_for(50ms);
    o = post(c, body);
    CHECK_FALSE(o.ok());
    CHECK_FALSE(o.response_started);
    CHECK((o.failure == h1::Failure::read || o.failure == h1::Failure::write));
    CHECK_FALSE(c.reusable());
  }
  {
    // A server that never answers: the read timeout, then stop() from another thread.
    std::atomic<bool> release{false};
    RawServer server([&](Conn& c) {
      c.read_request();
      for (int i = 0; i < 500 && !release; ++i) std::this_thread::sleep_for(10ms);
    });
    h1::Connection c("127.0.0.1", server.port(), 2s);
    std::string body;
    auto t0 = std::chrono::steady_clock::now();
    auto o = post(c, body, 300ms);
    CHECK(o.failure == h1::Failure::timeout);
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    h1::Connection c2("127.0.0.1", server.port(), 2s);
    std::thread stopper([&] {
      std::this_thread::sleep_for(200ms);
      c2.stop();
    });
    t0 = std::chrono::steady_clock::now();
    o = post(c2, body, 30s);
    stopper.join();
    CHECK(o.failure == h1::Failure::stopped);
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    release = true;
  }
  {
    // Nobody listens: could not connect, and the message says the connection was refused.
    int port = testutil::free_port();
    h1::Connection c("127.0.0.1", port, 2s);
    std::string body;
    auto o = post(c, body);
    CHECK(o.failure == h1::Failure::connect);
    CHECK(h1::describe(o) == "could not connect: connection refused");
  }
  {
    // A response that is not HTTP: a protocol error, and the connection is dropped.
    RawServer server([](Conn& c) {
      c.read_request();
      c.send("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    });
    h1::Connection c("127.0.0.1", server.port(), 2s);
    std::string body;
    auto o = post(c, body);
    CHECK(o.failure == h1::Failure::protocol);
    CHECK(h1::describe(o).find("invalid HTTP response") == 0);
    CHECK_FALSE(c.reusable());
  }
  CHECK(testutil::open_fds() == fds_before);
}

TEST_CASE("http1 connection: a server that sends heads alone is read once per response; no response waits on that") {
  const std::size_t fds_before = testutil::open_fds();
  {
    const std::string sse_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string event = "5\r\nhello\r\n0\r\n\r\n";
    // The request body says what to answer. "head-alone": the head, then the body 300 us
    // later (20 ms for "learn"); "short": a whole response shorter than that head; "slow":
    // the body 100 ms after the head; "split-end": the event, then the chunked terminator
    // 50 ms later. A server with `nagle` leaves Nagle's algorithm on, as cpp-httplib does.
    auto serve = [&](bool nagle) {
      return [&, nagle](Conn& c) {
        const int one = 1;
        if (!nagle) ::setsockopt(c.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::string what;
        while (c.read_request(nullptr, &what)) {
          if (what == "short") {
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
          } else if (what == "split-end") {
            c.send(sse_head + "5\r\nhello\r\n");
            std::this_thread::sleep_for(50ms);
            c.send("0\r\n\r\n");
          } else {
            c.send(sse_head);
            std::this_thread::sleep_for(what == "learn" ? 20ms : what == "slow" ? 100ms : 300us);
            c.send(event);
          }
        }
      };
    };
    RawServer server(serve(false)), nagle_server(serve(true));
    using Clock = std::chrono::steady_clock;
    Clock::duration head_to_body{};  // from the head's callback to the body's first byte's
    auto exchange = [&](h1::Connection& c, const std::string& what, std::string& body, bool coalesce = true) {
      body.clear();
      const std::string head = "POST /mcp HTTP/1.1\r\nHost: " + c.host_header() +
                               "\r\nContent-Length: " + std::to_string(what.size()) + "\r\n\r\n";
      Clock::time_point head_at{};
      return c.exchange(
          head, what, false, 5s,
          [&](const h1::Head&) {
            head_at = Clock::now();
            return true;
          },
          [&](const char* d, std::size_t n) {
            if (body.empty()) head_to_body = Clock::now() - head_at;
            body.append(d, n);
            return true;
          },
          coalesce);
    };
    std::string body;
    {
      h1::Connection c("127.0.0.1", server.port(), 2s);
      REQUIRE(exchange(c, "head-alone", body, false).ok());
      CHECK_FALSE(c.coalescing());  // only a coalescing exchange learns
      REQUIRE(exchange(c, "learn", body).ok());
      CHECK(body == "hello");
      CHECK(c.coalescing());
      // The server sends the body 300 us after the head. Read as it comes, the head is
      // handled first and the body 300 us later; coalesced, both are read together.
      int coalesced_together = 0, plain_together = 0;
      for (int i = 0; i < 40; ++i) {
        const bool coalesce = i % 2 == 0;  // alternately, so both see the same machine
        REQUIRE(exchange(c, "head-alone", body, coalesce).ok());
        CHECK(body == "hello");
        if (head_to_body < 150us) ++(coalesce ? coalesced_together : plain_together);
      }
      CAPTURE(coalesced_together);
      CAPTURE(plain_together);
      CHECK(coalesced_together >= 15);  // of 20
      CHECK(plain_together <= 5);       // of 20
      {
        const auto t0 = std::chrono::steady_clock::now();
        REQUIRE(exchange(c, "split-end", body).ok());  // a terminator shorter than the gate, alone
        CHECK(body == "hello");
        CHECK(std::chrono::steady_clock::now() - t0 < 1s);
        CHECK(c.coalescing());
      }
      CHECK(c.reusable());
    }
    for (const std::string what : {"short", "slow"}) {
      // "short": the gate only delays it (its wait expires with the whole response waiting
      // under it); after kMaxStrikes of those the connection stops coalescing. "slow": the
      // gate expires while the server works; no reason to stop, but the next exchanges skip it.
      CAPTURE(what);
      h1::Connection c("127.0.0.1", server.port(), 2s);
      REQUIRE(exchange(c, "learn", body).ok());
      REQUIRE(c.coalescing());
      int gated = 0;  // exchanges that waited for the gate
      for (int i = 0; i < 12 && c.coalescing(); ++i) {
        const bool gating = c.gating();
        gated += gating;
        const auto t0 = std::chrono::steady_clock::now();
        REQUIRE(exchange(c, what, body).ok());
        CHECK(body == (what == "short" ? "ok" : "hello"));
        CHECK(std::chrono::steady_clock::now() - t0 < 1s);  // not held until the 5 s timeout
        if (gating) CHECK_FALSE(c.gating());  // after an expired gate the next exchange does not wait
      }
      // Gated: the 1st, 3rd, 6th and 11th of 12 (1, 2, then 4 skipped after each expiry).
      CHECK(c.coalescing() == (what == "slow"));
      CHECK(gated == (what == "slow" ? 4 : h1::Connection::kMaxStrikes));
      // Once the skips are used up, and replies come within the gate, it holds again.
      for (int i = 0; i < 8 && !c.gating(); ++i) REQUIRE(exchange(c, "head-alone", body).ok());
      CHECK(c.gating() == (what == "slow"));
      REQUIRE(exchange(c, "head-alone", body).ok());
      CHECK(body == "hello");
      CHECK(c.gating() == (what == "slow"));
    }
    {
      // Nagle: the body waits for the head's acknowledgement, which the client's kernel delays
      // (delayed ACK, ~40 ms here) whether or not the head was read. The gate adds nothing.
      h1::Connection c("127.0.0.1", nagle_server.port(), 2s);
      REQUIRE(exchange(c, "learn", body).ok());
      Clock::duration with{}, without{};
      for (int i = 0; i < 8; ++i) {
        const auto t0 = Clock::now();
        REQUIRE(exchange(c, "head-alone", body, i % 2 == 0).ok());
        (i % 2 == 0 ? with : without) += Clock::now() - t0;
        CHECK(body == "hello");
      }
      MESSAGE("4 gated exchanges " << std::chrono::duration_cast<std::chrono::milliseconds>(with).count()
                                   << " ms, 4 not gated "
                                   << std::chrono::duration_cast<std::chrono::milliseconds>(without).count() << " ms");
#if !defined(__SANITIZE_THREAD__)
      // A timing property: under TSan beside other tests (301 against 128 ms once) it says
      // nothing about the gate, so only the plain and ASan builds check it.
      CHECK(with < without + 12ms);  // 4 exchanges each
#endif
    }
    CHECK(server.accepted() == 3);
  }
  CHECK(testutil::open_fds() == fds_before);
}

TEST_CASE("read buffers: one per thread, reused; a nested read gets its own; no data overwritten") {
  namespace d = mcp::detail;
  char* first = nullptr;
  {
    d::ReadBuffer a;
    first = a.data();
    std::memset(a.data(), 'a', d::ReadBuffer::kSize);
    {
      d::ReadBuffer nested;  // lent already: a block of its own
      CHECK(nested.data() != a.data());
      std::memset(nested.data(), 'n', d::ReadBuffer::kSize);
    }
    CHECK(a.data()[0] == 'a');
    CHECK(a.data()[d::ReadBuffer::kSize - 1] == 'a');
  }
  {
    d::ReadBuffer again;  // the same thread's block, lent again
    CHECK(again.data() == first);
  }
  char* other = nullptr;
  std::thread([&] {
    d::ReadBuffer b;
    other = b.data();
  }).join();
  CHECK(other != first);

  // An exchange whose on_data runs another exchange on the same thread: the outer body, read
  // before and after the nested one, arrives whole (the server sends it in two parts).
  std::atomic<bool> nested_done{false};
  RawServer server([](Conn& c) {
    if (c.read_request()) c.send("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nnested");
  });
  RawServer server2([&](Conn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\nouter-1:");
    for (int i = 0; i < 300 && !nested_done; ++i) std::this_thread::sleep_for(10ms);
    c.send("outer-2!");
  });
  h1::Connection outer("127.0.0.1", server2.port(), 2s);
  h1::Connection inner("127.0.0.1", server.port(), 2s);
  std::string outer_body, inner_body;
  const std::string head = "POST /mcp HTTP/1.1\r\nHost: " + outer.host_header() + "\r\nContent-Length: 2\r\n\r\n";
  auto o = outer.exchange(head, "{}", false, 5s, nullptr, [&](const char* data, std::size_t n) {
    const std::string part(data, n);
    if (!nested_done) {
      const std::string ihead = "POST /mcp HTTP/1.1\r\nHost: " + inner.host_header() + "\r\nContent-Length: 3\r\n\r\n";
      auto io = inner.exchange(ihead, "[1]", false, 5s, nullptr, [&](const char* d2, std::size_t n2) {
        inner_body.append(d2, n2);
        return true;
      });
      CHECK(io.ok());
      nested_done = true;
    }
    // What this callback was given is still what the server sent.
    CHECK(std::string(data, n) == part);
    outer_body += part;
    return true;
  });
  REQUIRE(o.ok());
  CHECK(outer_body == "outer-1:outer-2!");
  CHECK(inner_body == "nested");
}

TEST_CASE("http transport on the lean client: silently dropped keep-alive, chunked replies, Connection: close") {
  // A minimal modern server on raw sockets: each connection answers one request, then is
  // dropped without a word (kept-alive connections go stale) or, in the second mode, says
  // "Connection: close" and sends its reply chunked.
  for (const bool chunked : {false, true}) {
    CAPTURE(chunked);
    RawServer server([chunked](Conn& c) {
      std::string body;
      if (!c.read_request(nullptr, &body)) return;
      auto req = nlohmann::json::parse(body, nullptr, false);
      nlohmann::json reply{{"jsonrpc", "2.0"}, {"id", req.value("id", nlohmann::json())}};
      reply["result"] = {{"resultType", "complete"}};
      if (req.value("method", "") == "server/discover")
        reply["result"] = {{"supportedVersions", {"2026-07-28"}}, {"capabilities", {{"tools", nlohmann::json::object()}}}};
      if (req.value("method", "") == "tools/call")
        reply["result"]["content"] = nlohmann::json::array({{{"type", "text"}, {"text", req["params"]["arguments"]["message"]}}});
      const std::string text = reply.dump();
      if (chunked) {
        std::string out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (std::size_t i = 0; i < text.size(); i += 7) {
          const auto part = text.substr(i, 7);
          char size[16];
          std::snprintf(size, sizeof size, "%zx\r\n", part.size());
          out += size + part + "\r\n";
        }
        c.send(out + "0\r\n\r\n");
      } else {
        c.send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(text.size()) + "\r\n\r\n" + text);
      }
    });
    mcp::HttpServerConfig h;
    h.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/mcp";
    mcp::ServerConfig sc;
    sc.transport = h;
    sc.era = mcp::Era::modern;
    auto cfg = testutil::one("raw", sc);
    cfg.request_timeout = 5s;
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    for (int i = 0; i < 5; ++i) {
      auto r = client->call_tool("raw", "echo", {{"message", "m" + std::to_string(i)}});
      REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
      CHECK(r->text() == "m" + std::to_string(i));
      std::this_thread::sleep_for(20ms);  // the server has dropped the connection by now
    }
    CHECK(server.accepted() == 6);  // one connection per request (discover and 5 calls); none failed
    client->disconnect();
  }
}
