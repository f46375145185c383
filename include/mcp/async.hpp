// SPDX-License-Identifier: MIT
#pragma once
/// @file async.hpp
/// Completion tokens of the asynchronous API (`Session::async_*`, `Client::async_*`).
///
/// Each asynchronous function takes, as its last argument, what to do with the outcome:
/// - a callable taking `Result<T>` (a lambda, a std::function): called once, on a library
///   thread or on ClientConfig::executor, never inside the call that started the request;
///   the function returns void;
/// - `mcp::use_future`: the function returns `std::future<Result<T>>`;
/// - an Asio completion token (`asio::use_awaitable`, `asio::deferred`, a handler with an
///   associated executor, ...) once `<mcp/asio.hpp>` is included: the handler runs on its
///   associated executor and Asio's per-operation cancellation cancels the request.
/// No thread waits for a request in flight: the library's threads are bounded whatever the
/// number of requests (see docs/ARCHITECTURE.md).

#include <mcp/error.hpp>

#include <functional>
#include <future>
#include <memory>
#include <stop_token>
#include <type_traits>
#include <utility>

namespace mcp {

/// A completion handler: called once with the outcome.
template <class T>
using Callback = std::function<void(Result<T>)>;

/// The completion token for a `std::future<Result<T>>`.
struct UseFuture {};
inline constexpr UseFuture use_future{};  ///< pass as the last argument of an async_* call to get a std::future<Result<T>>

namespace detail {

/// Completion tokens other than callables and use_future: defined by <mcp/asio.hpp> for Asio's.
template <class Token, class T, class Enable = void>
struct AsyncAdapter;

/// Tokens that are callables but belong to an adapter (Asio's binders: a handler with an
/// associated executor or cancellation slot); specialised by <mcp/asio.hpp>.
template <class D>
struct PreferAdapter : std::false_type {};

/// A stop source stopped when either of two tokens is.
struct StopLink {
  struct Request {
    std::stop_source source;
    void operator()() noexcept { source.request_stop(); }
  };
  std::stop_source source;
  std::stop_callback<Request> a, b;
  StopLink(const std::stop_token& x, const std::stop_token& y) : a(x, Request{source}), b(y, Request{source}) {}
};

/// Starts an asynchronous operation whose outcome is a Result<T>: `start(Callback<T>,
/// std::stop_token cancel)` begins it (`cancel`: one more way to stop it, from an Asio
/// cancellation slot); `token` says what becomes of the outcome (see the file's comment).
template <class T, class Token, class Start>
auto async_start(Token&& token, Start&& start) {
  using D = std::decay_t<Token>;
  if constexpr (std::is_same_v<D, UseFuture>) {
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    start(Callback<T>([promise](Result<T> r) { promise->set_value(std::move(r)); }), std::stop_token());
    return future;
  } else if constexpr (!PreferAdapter<D>::value && std::is_invocable_v<D&, Result<T>>) {
    if constexpr (std::is_copy_constructible_v<D>) {
      start(Callback<T>(std::forward<Token>(token)), std::stop_token());
    } else {  // move-only handler: std::function needs a copyable target
      auto h = std::make_shared<D>(std::forward<Token>(token));
      start(Callback<T>([h](Result<T> r) { (*h)(std::move(r)); }), std::stop_token());
    }
  } else {
    return AsyncAdapter<D, T>::initiate(std::forward<Token>(token), std::forward<Start>(start));
  }
}

}  // namespace detail
}  // namespace mcp
