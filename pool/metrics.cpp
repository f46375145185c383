// SPDX-License-Identifier: MIT
#include <mcp/metrics.hpp>
#include <mcp/pool.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <tuple>
#include <utility>

namespace mcp {
namespace {

constexpr std::size_t kEras = 3;      // Era::unknown, modern, legacy
constexpr std::size_t kOutcomes = 4;  // RequestEvent::Outcome
constexpr std::size_t kKinds = 8;     // ErrorKind 1..7; 0 for a code of another category
constexpr std::size_t kMaxBuckets = 64;
constexpr std::string_view kOther = "_other";

constexpr std::array<const char*, kOutcomes> kOutcomeNames{"ok", "error", "timeout", "cancelled"};
constexpr std::array<const char*, kKinds> kKindNames{"other", "transport", "protocol", "timeout",
                                                     "cancelled", "auth", "config", "pool"};

// What each PoolStats member becomes. Several members may share a family (told apart by one
// label); a family's rows are adjacent, since the format wants a family's samples together.
struct PoolField {
  std::uint64_t (*get)(const PoolStats&);
  const char* family;
  const char* type;
  const char* help;
  const char* label;  // `name="value"` or nullptr
};
#define MCP_POOL_FIELD(member, family, type, help, label) \
  PoolField{[](const PoolStats& s) { return static_cast<std::uint64_t>(s.member); }, family, type, help, label}
const std::array kPoolFields{
    MCP_POOL_FIELD(hits, "mcp_pool_hits_total", "counter", "Acquires that found a live client.", nullptr),
    MCP_POOL_FIELD(misses, "mcp_pool_misses_total", "counter",
                   "Acquires that had to create a client or wait for its creation.", nullptr),
    MCP_POOL_FIELD(creations, "mcp_pool_creations_total", "counter", "Clients created.", nullptr),
    MCP_POOL_FIELD(creation_failures, "mcp_pool_creation_failures_total", "counter",
                   "Client creations that failed (factory or Client::create).", nullptr),
    MCP_POOL_FIELD(evictions_lru, "mcp_pool_evictions_total", "counter", "Clients evicted, by reason.",
                   "reason=\"lru\""),
    MCP_POOL_FIELD(evictions_ttl, "mcp_pool_evictions_total", "counter", "", "reason=\"ttl\""),
    MCP_POOL_FIELD(evictions_explicit, "mcp_pool_evictions_total", "counter", "", "reason=\"explicit\""),
    MCP_POOL_FIELD(evictions_dead, "mcp_pool_evictions_total", "counter", "", "reason=\"dead\""),
    MCP_POOL_FIELD(evictions_rotated, "mcp_pool_evictions_total", "counter", "", "reason=\"rotated\""),
    MCP_POOL_FIELD(live, "mcp_pool_clients", "gauge", "Clients in the pool.", nullptr),
    MCP_POOL_FIELD(leased, "mcp_pool_clients_leased", "gauge", "Clients in the pool with at least one lease.",
                   nullptr),
    MCP_POOL_FIELD(disposing, "mcp_pool_clients_disposing", "gauge",
                   "Evicted clients not yet disconnected (leased, or queued).", nullptr),
};
#undef MCP_POOL_FIELD

// PoolStats is read member by member above: a member added to it must be added there too
// (this counts its members as the number of values it can be brace-initialised from).
struct AnyValue {
  template <class T>
  constexpr operator T() const noexcept {  // NOLINT(google-explicit-constructor)
    return T{};
  }
};
template <class T, class... Values>
constexpr std::size_t member_count() {
  if constexpr (requires { T{Values{}..., AnyValue{}}; }) return member_count<T, Values..., AnyValue>();
  else return sizeof...(Values);
}
static_assert(member_count<PoolStats>() == std::tuple_size_v<decltype(kPoolFields)>,
              "PoolStats has a member that kPoolFields in pool/metrics.cpp does not export: add a row for it");

// ---------------------------------------------------------------- writing the format

void put(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
void put(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
void put(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back the same
  out.append(buf, r.ptr);
}

// Length of the valid UTF-8 sequence at s[i], or 0 (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  return n;
}

// A label value between its quotes: `\` `"` and newline escaped (the format's three escapes),
// invalid UTF-8 replaced by U+FFFD (the format is UTF-8; a scraper refuses anything else).
void put_label_value(std::string& out, std::string_view v) {
  for (std::size_t i = 0; i < v.size();) {
    const char c = v[i];
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else if (const auto n = utf8_length(v, i); n > 0) {
      out.append(v, i, n);
      i += n;
      continue;
    } else {
      out += "\xEF\xBF\xBD";
    }
    ++i;
  }
}

void put_label(std::string& out, const char* name, std::string_view value) {
  out += name;
  out += "=\"";
  put_label_value(out, value);
  out += '"';
}

void put_header(std::string& out, const char* family, const char* type, const char* help) {
  out += "# HELP ";
  out += family;
  out += ' ';
  out += help;  // our own constants: nothing to escape
  out += "\n# TYPE ";
  out += family;
  out += ' ';
  out += type;
  out += '\n';
}

// ---------------------------------------------------------------- the series

// Counters of one (server, method) pair. Created once, never freed before the Impl: lookups
// read it without a lock.
struct Series {
  Series(std::string s, std::string m, std::size_t h, std::size_t cells)
      : server(std::move(s)), method(std::move(m)), hash(h), histograms(new std::atomic<std::uint64_t>[cells]()) {}
  const std::string server, method;
  const std::size_t hash;
  std::atomic<std::int64_t> in_flight{0};
  std::array<std::atomic<std::uint64_t>, kKinds> errors{};
  // [era][outcome][bucket 0..n (n: +Inf), then the sum in nanoseconds]
  std::unique_ptr<std::atomic<std::uint64_t>[]> histograms;
};

std::size_t hash_of(std::string_view server, std::string_view method) {
  const std::size_t a = std::hash<std::string_view>{}(server);
  const std::size_t b = std::hash<std::string_view>{}(method);
  return a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
}

}  // namespace

struct Metrics::Impl {
  explicit Impl(MetricsOptions o) : options(std::move(o)) {
    for (double b : options.buckets) bounds_ns.push_back(static_cast<std::uint64_t>(std::llround(b * 1e9)));
    stride = bounds_ns.size() + 2;
    std::size_t capacity = 1;
    while (capacity < 2 * options.max_series + 2) capacity <<= 1;  // at most half full: probes stay short
    mask = capacity - 1;
    slots.reset(new std::atomic<Series*>[capacity]());
    overflow = std::make_unique<Series>(std::string(kOther), std::string(kOther), 0, kEras * kOutcomes * stride);
  }

  MetricsOptions options;
  std::vector<std::uint64_t> bounds_ns;
  std::size_t stride = 0;
  std::size_t mask = 0;
  std::unique_ptr<std::atomic<Series*>[]> slots;  // open addressing, linear probing, insert-only
  std::atomic<bool> full{false};                  // max_series pairs have series
  std::unique_ptr<Series> overflow;

  mutable std::mutex m;  // series (insertion) and pools
  std::vector<std::unique_ptr<Series>> series;
  std::vector<std::pair<std::string, std::function<PoolStats()>>> pools;
  mutable std::mutex scrape;  // held by text() while it calls the pools' stats(); remove_pool waits on it

  Series* find(std::string_view server, std::string_view method) {
    const std::size_t h = hash_of(server, method);
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      Series* s = slots[i].load(std::memory_order_acquire);
      if (s == nullptr) return full.load(std::memory_order_relaxed) ? overflow.get() : insert(server, method, h);
      if (s->hash == h && s->server == server && s->method == method) return s;
    }
  }

  Series* insert(std::string_view server, std::string_view method, std::size_t h) {
    std::lock_guard lk(m);
    std::size_t i = h & mask;
    for (;; i = (i + 1) & mask) {  // again: another thread may have added it meanwhile
      Series* s = slots[i].load(std::memory_order_relaxed);
      if (s == nullptr) break;
      if (s->hash == h && s->server == server && s->method == method) return s;
    }
    if (series.size() >= options.max_series) {
      full.store(true, std::memory_order_relaxed);
      return overflow.get();
    }
    series.push_back(std::make_unique<Series>(std::string(server), std::string(method), h, kEras * kOutcomes * stride));
    slots[i].store(series.back().get(), std::memory_order_release);
    if (series.size() >= options.max_series) full.store(true, std::memory_order_relaxed);
    return series.back().get();
  }

  void observe(const RequestEvent& e) {
    Series* s = find(e.server, e.method);
    if (e.phase == RequestEvent::Phase::start) {
      s->in_flight.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    s->in_flight.fetch_sub(1, std::memory_order_relaxed);
    const auto era = std::min<std::size_t>(static_cast<std::size_t>(e.era), kEras - 1);
    const auto outcome = std::min<std::size_t>(static_cast<std::size_t>(e.outcome), kOutcomes - 1);
    const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(e.duration.count(), 0));
    std::atomic<std::uint64_t>* h = &s->histograms[(era * kOutcomes + outcome) * stride];
    const auto bucket = static_cast<std::size_t>(std::lower_bound(bounds_ns.begin(), bounds_ns.end(), ns) - bounds_ns.begin());
    h[bucket].fetch_add(1, std::memory_order_relaxed);
    h[stride - 1].fetch_add(ns, std::memory_order_relaxed);
    if (e.outcome != RequestEvent::Outcome::ok) {
      std::size_t kind = 0;
      if (e.error && e.error->code.category() == error_category()) kind = static_cast<std::size_t>(e.error->kind());
      else if (e.outcome == RequestEvent::Outcome::timeout) kind = static_cast<std::size_t>(ErrorKind::timeout);
      else if (e.outcome == RequestEvent::Outcome::cancelled) kind = static_cast<std::size_t>(ErrorKind::cancelled);
      s->errors[kind < kKinds ? kind : 0].fetch_add(1, std::memory_order_relaxed);
    }
  }

  void write(std::string& out) const {
    std::unique_lock scraping(scrape);
    std::vector<const Series*> all;
    decltype(pools) sources;
    {
      std::lock_guard lk(m);
      all.reserve(series.size() + 1);
      for (const auto& s : series) all.push_back(s.get());
      sources = pools;
    }
    std::sort(all.begin(), all.end(), [](const Series* a, const Series* b) {
      return std::tie(a->server, a->method) < std::tie(b->server, b->method);
    });
    all.push_back(overflow.get());  // last, and only where it counted something
    write_requests(out, all);
    write_pools(out, sources);
  }

  void write_requests(std::string& out, const std::vector<const Series*>& all) const {
    const std::size_t n = bounds_ns.size();
    std::vector<std::string> le;  // the bounds as the format writes them
    for (double b : options.buckets) {
      le.emplace_back();
      put(le.back(), b);
    }
    le.emplace_back("+Inf");
    put_header(out, "mcp_client_request_duration_seconds", "histogram",
               "Duration of the requests MCP clients made, by server, method, era and outcome.");
    std::vector<std::uint64_t> counts(n + 1);
    std::string labels;
    for (const Series* s : all) {
      for (std::size_t era = 0; era < kEras; ++era) {
        for (std::size_t outcome = 0; outcome < kOutcomes; ++outcome) {
          const std::atomic<std::uint64_t>* h = &s->histograms[(era * kOutcomes + outcome) * stride];
          std::uint64_t total = 0;
          for (std::size_t b = 0; b <= n; ++b) total += counts[b] = h[b].load(std::memory_order_relaxed);
          if (total == 0) continue;
          // The count is the buckets' own total, so `_count` equals the `+Inf` bucket even
          // while requests end during the scrape.
          const std::uint64_t sum_ns = h[stride - 1].load(std::memory_order_relaxed);
          labels.clear();
          put_label(labels, "server", s->server);
          labels += ',';
          put_label(labels, "method", s->method);
          labels += ",era=\"";
          labels += to_string(static_cast<Era>(era));
          labels += "\",outcome=\"";
          labels += kOutcomeNames[outcome];
          labels += '"';
          std::uint64_t cumulative = 0;
          for (std::size_t b = 0; b <= n; ++b) {
            cumulative += counts[b];
            out += "mcp_client_request_duration_seconds_bucket{";
            out += labels;
            out += ",le=\"";
            out += le[b];
            out += "\"} ";
            put(out, cumulative);
            out += '\n';
          }
          out += "mcp_client_request_duration_seconds_sum{";
          out += labels;
          out += "} ";
          put(out, static_cast<double>(sum_ns) / 1e9);
          out += "\nmcp_client_request_duration_seconds_count{";
          out += labels;
          out += "} ";
          put(out, total);
          out += '\n';
        }
      }
    }
    put_header(out, "mcp_client_request_errors_total", "counter",
               "Requests that did not end ok, by server, method and kind of error.");
    for (const Series* s : all) {
      for (std::size_t k = 0; k < kKinds; ++k) {
        const std::uint64_t v = s->errors[k].load(std::memory_order_relaxed);
        if (v == 0) continue;
        out += "mcp_client_request_errors_total{";
        put_label(out, "server", s->server);
        out += ',';
        put_label(out, "method", s->method);
        out += ",kind=\"";
        out += kKindNames[k];
        out += "\"} ";
        put(out, v);
        out += '\n';
      }
    }
    put_header(out, "mcp_client_requests_in_flight", "gauge", "Requests started and not yet ended, by server and method.");
    for (const Series* s : all) {
      const std::int64_t v = s->in_flight.load(std::memory_order_relaxed);
      if (s == overflow.get() && v == 0) continue;
      out += "mcp_client_requests_in_flight{";
      put_label(out, "server", s->server);
      out += ',';
      put_label(out, "method", s->method);
      out += "} ";
      put(out, v);
      out += '\n';
    }
  }

  static void write_pools(std::string& out, const decltype(pools)& sources) {
    std::vector<std::pair<const std::string*, PoolStats>> stats;
    stats.reserve(sources.size());
    for (const auto& [name, get] : sources) {
      try {
        stats.emplace_back(&name, get());
      } catch (...) {  // a pool whose stats cannot be read is left out of this scrape
      }
    }
    if (stats.empty()) return;  // no pool: no pool families
    const char* family = nullptr;
    for (const PoolField& f : kPoolFields) {
      if (family == nullptr || std::string_view(family) != f.family) {
        family = f.family;
        put_header(out, f.family, f.type, f.help);
      }
      for (const auto& [name, s] : stats) {
        out += f.family;
        out += '{';
        put_label(out, "pool", *name);
        if (f.label) {
          out += ',';
          out += f.label;
        }
        out += "} ";
        put(out, f.get(s));
        out += '\n';
      }
    }
  }
};

// ---------------------------------------------------------------- Metrics

Metrics::Metrics() : impl_(std::make_shared<Impl>(MetricsOptions{})) {}
Metrics::Metrics(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Metrics::Metrics(Metrics&&) noexcept = default;
Metrics& Metrics::operator=(Metrics&&) noexcept = default;
Metrics::~Metrics() = default;

Result<Metrics> Metrics::create(MetricsOptions options) {
  if (options.max_series == 0) return fail(Errc::invalid_config, "MetricsOptions::max_series must be at least 1");
  if (options.buckets.size() > kMaxBuckets)
    return fail(Errc::invalid_config, "MetricsOptions::buckets: at most " + std::to_string(kMaxBuckets) + " buckets");
  double previous = 0;
  for (double b : options.buckets) {
    // 1e7 s (about 116 days) keeps the nanosecond bound far inside 64 bits.
    if (!std::isfinite(b) || b <= 0 || b > 1e7)
      return fail(Errc::invalid_config, "MetricsOptions::buckets: each bound must be a number of seconds above 0 and at most 1e7");
    if (std::llround(b * 1e9) <= std::llround(previous * 1e9))
      return fail(Errc::invalid_config, "MetricsOptions::buckets must increase, each at least a nanosecond above the last");
    previous = b;
  }
  return Metrics(std::make_shared<Impl>(std::move(options)));
}

std::function<void(const RequestEvent&)> Metrics::hook(std::function<void(const RequestEvent&)> next) const {
  if (!impl_) return next;
  if (!next) return [impl = impl_](const RequestEvent& e) { impl->observe(e); };
  return [impl = impl_, next = std::move(next)](const RequestEvent& e) {
    impl->observe(e);
    next(e);
  };
}

void Metrics::observe(const RequestEvent& event) {
  if (impl_) impl_->observe(event);
}

void Metrics::add_pool(std::string name, const ClientPool& pool) {
  add_pool(std::move(name), [&pool] { return pool.stats(); });
}

void Metrics::add_pool(std::string name, std::function<PoolStats()> stats) {
  if (!impl_ || !stats) return;
  std::lock_guard lk(impl_->m);
  for (auto& [n, f] : impl_->pools) {
    if (n == name) {
      f = std::move(stats);
      return;
    }
  }
  impl_->pools.emplace_back(std::move(name), std::move(stats));
}

void Metrics::remove_pool(std::string_view name) {
  if (!impl_) return;
  std::lock_guard scraping(impl_->scrape);  // no text() is calling it once we have this
  std::lock_guard lk(impl_->m);
  std::erase_if(impl_->pools, [&](const auto& p) { return p.first == name; });
}

std::string Metrics::text() const {
  std::string out;
  write(out);
  return out;
}

void Metrics::write(std::string& out) const {
  if (impl_) impl_->write(out);
}

}  // namespace mcp
