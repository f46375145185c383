// SPDX-License-Identifier: MIT
// The transport's authorization: credentials from the auth provider on every request, the
// provider asked again after a 401/403, and the errors a refused request reports.
#include "http_transport_impl.hpp"


#include <exception>

namespace mcp::detail {

// What a user callback that threw said (called inside a catch block).
std::string thrown_text() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

Error HttpTransport::status_error(int status, const std::string& body, const ResponseFields& headers) const {
  if (status == 401 || status == 403) {
    Error e = err(Errc::unauthorized, "HTTP " + std::to_string(status) + " from " + url_.shown() +
                                          (status == 401 ? ": authentication required" : ": forbidden"));
    json data{{"status", status}};
    if (const auto* v = headers.first("WWW-Authenticate")) data["www_authenticate"] = *v;
    e.data = std::move(data);
    e.http_status = status;
    return e;
  }
  Error e = err(Errc::http_error, "HTTP " + std::to_string(status) + " from " + url_.shown());
  e.data = json{{"status", status}, {"body", body.substr(0, 512)}};
  e.http_status = status;
  return e;
}

Result<void> HttpTransport::apply_auth(Fields& h, const char* method, const Url& url,
                                       Clock::time_point deadline) {
  if (!h.provider_failure.empty()) return fail(err(Errc::unauthorized, h.provider_failure));
  if (!cfg_.auth) return {};
  AuthRequestInfo request;
  request.server_url = cfg_.url;
  request.method = method;
  // The configured URL as written (a DPoP proof names it), or where the request really goes.
  request.url = url.origin() == url_.origin() && url.target == url_.target ? cfg_.url.substr(0, cfg_.url.find('#'))
                                                                           : url.str();
  Result<AuthHeaders> headers = AuthHeaders{};
  try {
    headers = cfg_.auth->request_headers(request, deadline);
  } catch (...) {
    return fail(err(Errc::unauthorized, "the auth provider threw: " + thrown_text()));
  }
  if (!headers) return fail(tagged(headers.error(), name_));
  h.erase("Authorization");  // a resend carries fresh credentials only
  h.erase("DPoP");
  for (const auto& [k, v] : *headers)
    if (k.empty() || !header_safe(k) || !header_safe(v))
      return fail(err(Errc::unauthorized, "the auth provider returned a header with CR, LF or NUL"));
  for (const auto& [k, v] : *headers) h.set(k, v);
  return {};
}

Result<bool> HttpTransport::challenge(int status, const ResponseFields& response, const Fields& sent,
                                      int attempt, Clock::time_point deadline, Flight* f,
                                      const json& id) {
  constexpr int kMaxAuthAttempts = 6;
  if (!cfg_.auth || (status != 401 && status != 403) || attempt > kMaxAuthAttempts || closing_) return false;
  AuthChallengeInfo info;
  info.status = status;
  info.server_url = cfg_.url;
  info.attempt = attempt;
  info.stop = f ? f->cancel.get_token() : closing_stop_.get_token();
  for (const auto& [k, v] : response.v)
    if (iequals(k, "WWW-Authenticate")) info.www_authenticate += (info.www_authenticate.empty() ? "" : ", ") + v;
  if (const auto a = sent.find("Authorization")) info.rejected_authorization = *a;
  if (const auto* n = response.first("DPoP-Nonce")) info.dpop_nonce = *n;
  // An authorization may need a person: the request's own timeout is suspended meanwhile
  // (held), and the provider gets at least kAuthWindow; its own timeouts bound the rest.
  constexpr auto kAuthWindow = std::chrono::minutes(10);
  if (!id.is_null() && cb_.on_request_held) cb_.on_request_held(id, true);
  const auto held_since = Clock::now();
  Result<bool> r = false;
  try {
    r = cfg_.auth->on_challenge(info, std::max(deadline, held_since + kAuthWindow));
  } catch (...) {
    r = fail(err(Errc::unauthorized, "the auth provider threw: " + thrown_text()));
  }
  if (f && f->here) f->deadline += Clock::now() - held_since;  // as the caller's wait counts it
  if (!id.is_null() && cb_.on_request_held) cb_.on_request_held(id, false);
  if (!r) {
    return fail(tagged(r.error(), name_));
  }
  return *r && !closing_;
}

}  // namespace mcp::detail
