// SPDX-License-Identifier: MIT
#pragma once
// One validate() pass over a compiled schema (evaluator.cpp).
#include "model.hpp"

#include <algorithm>

namespace mcp::detail::schema {

// ----------------------------------------------------------------------------------------------
// Evaluation

#if defined(__GNUC__)
#define MCP_COLD __attribute__((noinline, cold))
#define MCP_NOINLINE __attribute__((noinline))
#else
#define MCP_COLD
#define MCP_NOINLINE
#endif

/// What a successful evaluation saw, for `unevaluatedProperties`/`unevaluatedItems`.
struct Annotations {
  std::vector<std::string_view> props;
  bool all_props = false;
  std::size_t items = 0;  ///< indices below this were evaluated
  bool all_items = false;
  std::vector<std::size_t> item_indices;  ///< 2020-12 `contains` matches

  void merge(Annotations&& o) {
    if (props.empty()) {
      props = std::move(o.props);
    } else {
      props.insert(props.end(), o.props.begin(), o.props.end());
    }
    all_props |= o.all_props;
    items = std::max(items, o.items);
    all_items |= o.all_items;
    item_indices.insert(item_indices.end(), o.item_indices.begin(), o.item_indices.end());
  }
};

struct Error {
  std::string path;
  std::string message;
};

/// One validate() pass. The recursive path (eval -> keywords -> object/array/in-place -> eval)
/// keeps its frames small; messages, alternatives and unevaluated* live in separate functions,
/// so that max_eval_depth levels fit in a modest stack.
class Evaluator {
 public:
  Evaluator(const SchemaValidator::Impl& impl, bool report, std::size_t budget)
      : impl_(impl), report_(report), budget_(budget) {}

  bool run(const json& instance) {
    scope_.push_back(0);
    return eval(0, instance, nullptr);
  }

  std::vector<Error> errors;

 private:
  static constexpr std::size_t kMaxErrors = 3;

  struct Segment {
    const std::string* key;
    std::size_t index;
  };

  const SchemaValidator::Impl& impl_;
  const bool report_;
  const std::size_t budget_;
  std::size_t steps_ = 0;
  std::size_t depth_ = 0;
  int silent_ = 0;
  std::vector<Segment> path_;
  std::vector<int> scope_;  ///< dynamic scope: resources entered, outermost first

  struct PathGuard {
    std::vector<Segment>& path;
    PathGuard(std::vector<Segment>& p, const std::string* key, std::size_t index) : path(p) {
      path.push_back(Segment{key, index});
    }
    ~PathGuard() { path.pop_back(); }
  };

  struct Frame {  ///< depth and dynamic scope of one eval()
    Evaluator& ev;
    bool entered;
    ~Frame() {
      --ev.depth_;
      if (entered) ev.scope_.pop_back();
    }
  };

  void charge(std::size_t units) {
    steps_ += units;
    if (steps_ > budget_) out_of_budget();
  }

  [[noreturn]] MCP_COLD void out_of_budget() const {
    throw Abort{"validation abandoned: the work budget of " + std::to_string(budget_) +
                " steps is exhausted (schema or instance too expensive to check)"};
  }

  [[noreturn]] MCP_COLD void too_deep() const {
    throw Abort{"validation abandoned: subschemas nest deeper than " +
                std::to_string(impl_.limits.max_eval_depth) + " levels (recursive schema too deep)"};
  }

  std::string pointer() const {
    std::string p;
    for (const Segment& s : path_) {
      p += '/';
      p += s.key ? escape_token(*s.key) : std::to_string(s.index);
    }
    return p;
  }

  bool recording() const { return report_ && silent_ == 0; }
  /// After a failed assertion: evaluate the rest (to report more errors) or stop now.
  bool keep_going() const { return recording() && errors.size() < kMaxErrors; }

  MCP_COLD void error(std::string message) {
    if (recording() && errors.size() < kMaxErrors) errors.push_back(Error{pointer(), std::move(message)});
  }

  /// Records the message `make()` builds, only when recording (building it costs). The
  /// building happens in a separate cold frame, so message temporaries never enlarge the frames
  /// of the recursive path.
  template <class Make>
  void report(const Make& make) {
    if (recording() && errors.size() < kMaxErrors) report_cold(make);
  }
  template <class Make>
  MCP_COLD void report_cold(const Make& make) {
    error(make());
  }

  bool is_false(int node) const {
    return node == kFalse || (node >= 0 && impl_.nodes[std::size_t(node)].is_bool &&
                              !impl_.nodes[std::size_t(node)].bool_value);
  }

  MCP_NOINLINE bool matches(int regex, const std::string& s) {
    const Regex& r = impl_.regexes[std::size_t(regex)];
    const std::size_t len = code_points(s) + 1;
    charge(1 + saturating_mul(len, r.cost) / 16);
    const std::wstring w = widen(s);
    return std::regex_search(w, r.re);
  }

  /// Evaluates `node` silently (its failures are expected, e.g. the `if` of if/then/else).
  bool test(int node, const json& inst, Annotations* ann) {
    ++silent_;
    struct Unsilence {
      int& s;
      ~Unsilence() { --s; }
    } unsilence{silent_};
    return eval(node, inst, ann);
  }

  /// Evaluates one alternative of anyOf/oneOf/propertyNames, capturing its errors in
  /// `captured` when reporting.
  MCP_NOINLINE bool alternative(int node, const json& inst, Annotations* ann, std::vector<Error>& captured) {
    if (!recording()) return eval(node, inst, ann);
    std::vector<Error> saved;
    saved.swap(errors);
    bool ok = false;
    try {
      ok = eval(node, inst, ann);
    } catch (...) {
      errors.swap(saved);
      throw;
    }
    captured = std::move(errors);
    errors = std::move(saved);
    return ok;
  }

  /// The first error of the alternative that got furthest: the deepest path, and on a tie one
  /// whose type matched (a type mismatch means the alternative is for another kind of value).
  static std::string closest(const std::vector<std::vector<Error>>& branches) {
    const Error* best = nullptr;
    auto score = [](const Error& e) {
      return e.path.size() * 2 + (e.message.rfind("expected ", 0) == 0 ? 0 : 1);
    };
    for (const auto& b : branches) {
      if (!b.empty() && (!best || score(b.front()) > score(*best))) best = &b.front();
    }
    if (!best) return {};
    return "; closest: " + (best->path.empty() ? std::string("(root)") : best->path) + ": " + best->message;
  }

  int dynamic_target(const Node& s) const {
    if (!s.dynamic_bookend) return s.dynamic_ref;
    for (int r : scope_) {
      const Resource& res = impl_.resources[std::size_t(r)];
      if (s.recursive_ref) {
        if (res.recursive_anchor) return res.root_node;
      } else if (const auto it = res.dynamic_nodes.find(s.dynamic_name); it != res.dynamic_nodes.end()) {
        return it->second;
      }
    }
    return s.dynamic_ref;
  }

  static bool has_in_place(const Node& s) {
    return s.ref != kNone || s.dynamic_ref != kNone || !s.all_of.empty() || !s.any_of.empty() ||
           !s.one_of.empty() || s.not_ != kNone || s.if_ != kNone || !s.dependent_schemas.empty();
  }

  bool eval(int index, const json& inst, Annotations* ann);
  MCP_NOINLINE bool keywords(const Node& s, const json& inst, Annotations* a);
  MCP_NOINLINE bool unevaluated(const Node& s, const json& inst, Annotations* ann);
  MCP_NOINLINE bool check_value(const Node& s, const json& inst);
  bool type_matches(const Node& s, const json& inst);
  MCP_NOINLINE bool check_object(const Node& s, const json& inst);
  MCP_NOINLINE bool check_array(const Node& s, const json& inst);
  MCP_NOINLINE bool in_place(const Node& s, const json& inst, Annotations* a);
  MCP_NOINLINE bool any_of(const Node& s, const json& inst, Annotations* a);
  MCP_NOINLINE bool one_of(const Node& s, const json& inst, Annotations* a);
  MCP_NOINLINE bool property_name(const Node& s, const std::string& key);
  MCP_NOINLINE bool members(const Node& s, const json& inst, Annotations* a);
  MCP_NOINLINE bool elements(const Node& s, const json& inst, Annotations* a);
  MCP_NOINLINE bool contains(const Node& s, const json& inst, Annotations* a);
  bool unique(const json& inst);
  MCP_COLD void type_error(const Node& s, const json& inst);
};

}  // namespace mcp::detail::schema
