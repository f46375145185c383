// SPDX-License-Identifier: MIT
// The simple auth providers of <mcp/auth.hpp>: a fixed bearer token and a per-request callback.
#include <mcp/auth.hpp>

#include <mutex>
#include <utility>

namespace mcp {
namespace {

class BearerTokenProvider final : public AuthProvider {
 public:
  explicit BearerTokenProvider(std::string token) : value_(token.empty() ? std::string() : "Bearer " + token) {}
  Result<std::string> authorization(const std::string&, Clock::time_point) override { return value_; }
  Result<bool> on_challenge(const AuthChallengeInfo&, Clock::time_point) override { return false; }

 private:
  const std::string value_;
};

class TokenCallbackProvider final : public AuthProvider {
 public:
  explicit TokenCallbackProvider(std::function<Result<std::string>(bool)> cb) : cb_(std::move(cb)) {}

  Result<std::string> authorization(const std::string&, Clock::time_point) override {
    if (!cb_) return std::string();
    auto token = cb_(false);
    if (!token) return fail(token.error());
    return token->empty() ? std::string() : "Bearer " + *token;
  }

  // One refresh per request: the callback is asked again, and a different token is retried.
  Result<bool> on_challenge(const AuthChallengeInfo& challenge, Clock::time_point) override {
    if (!cb_ || challenge.attempt > 1) return false;
    auto token = cb_(true);
    if (!token) return fail(token.error());
    const std::string value = token->empty() ? std::string() : "Bearer " + *token;
    return !value.empty() && value != challenge.rejected_authorization;
  }

 private:
  std::function<Result<std::string>(bool)> cb_;
};

}  // namespace

std::shared_ptr<AuthProvider> bearer_token_provider(std::string token) {
  return std::make_shared<BearerTokenProvider>(std::move(token));
}

std::shared_ptr<AuthProvider> token_callback_provider(std::function<Result<std::string>(bool refresh)> callback) {
  return std::make_shared<TokenCallbackProvider>(std::move(callback));
}

}  // namespace mcp
