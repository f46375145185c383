// SPDX-License-Identifier: MIT
#pragma once
/// @file asio.hpp
/// Boost.Asio completion tokens for the asynchronous API (optional: include it to use them).
///
///     asio::awaitable<void> run(mcp::Client& client) {
///       auto r = co_await client.async_call_tool("srv", "echo", {{"message", "hi"}}, asio::use_awaitable);
///       ...
///     }
///
/// The completion signature is `void(mcp::Result<T>)`. The handler runs on its associated
/// executor (dispatched there from the library's thread), which counts as outstanding work while
/// the request is in flight, so `io_context::run()` does not return under it. The handler's
/// cancellation slot (e.g. `asio::bind_cancellation_slot`, `asio::experimental::awaitable_operators`,
/// a `cancel_after`) cancels the request like RequestOptions::stop: the server is told, and the
/// handler gets Errc::cancelled. Any cancellation type counts as a terminal one.
#include <mcp/async.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>

#include <memory>
#include <stop_token>
#include <utility>

namespace mcp::detail {

// Asio's binders are callables, but what they bind (an executor, a cancellation slot, an
// allocator) only Asio's path honours.
template <class T, class E>
struct PreferAdapter<boost::asio::executor_binder<T, E>> : std::true_type {};
template <class T, class S>
struct PreferAdapter<boost::asio::cancellation_slot_binder<T, S>> : std::true_type {};
template <class T, class A>
struct PreferAdapter<boost::asio::allocator_binder<T, A>> : std::true_type {};

template <class Token, class T, class Enable>
struct AsyncAdapter {
  template <class Tok, class Start>
  static auto initiate(Tok&& token, Start&& start) {
    namespace asio = boost::asio;
    return asio::async_initiate<Tok, void(Result<T>)>(
        [](auto handler, auto start_op) {
          using Handler = decltype(handler);
          auto executor = asio::prefer(asio::get_associated_executor(handler),
                                       asio::execution::outstanding_work.tracked);
          struct Op {
            Handler handler;
            decltype(executor) work;
            std::stop_source stop;
          };
          auto op = std::make_shared<Op>(Op{std::move(handler), std::move(executor), {}});
          std::stop_token cancel;
          auto slot = asio::get_associated_cancellation_slot(op->handler);
          if (slot.is_connected()) {
            cancel = op->stop.get_token();
            slot.assign([stop = op->stop](asio::cancellation_type) mutable { stop.request_stop(); });
          }
          start_op(Callback<T>([op](Result<T> r) {
                     auto work = op->work;
                     asio::dispatch(work, [op, r = std::move(r)]() mutable {
                       auto slot = asio::get_associated_cancellation_slot(op->handler);
                       if (slot.is_connected()) slot.clear();
                       auto h = std::move(op->handler);
                       std::move(h)(std::move(r));
                     });
                   }),
                   std::move(cancel));
        },
        token, std::forward<Start>(start));
  }
};

}  // namespace mcp::detail
