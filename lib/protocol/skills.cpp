// SPDX-License-Identifier: MIT
// Skill entries (SEP-2640) and the checks on what a host reads of a skill: no server here.
#include <mcp/skills.hpp>

#include "yaml_subset.hpp"

#include <openssl/sha.h>

#include <set>
#include <stdexcept>

namespace mcp {

using nlohmann::json;

namespace {

constexpr std::string_view skill_md = "/SKILL.md";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The skill name a SKILL.md URI ends in: the path segment before "/SKILL.md".
std::string_view name_in(std::string_view uri) {
  std::string_view dir = uri.substr(0, uri.size() - skill_md.size());
  auto slash = dir.rfind('/');
  return slash == std::string_view::npos ? dir : dir.substr(slash + 1);
}

bool well_formed_digest(const std::string& d) {
  if (d.size() != 7 + 64 || d.compare(0, 7, "sha256:") != 0) return false;
  for (std::size_t i = 7; i < d.size(); ++i)
    if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f'))) return false;
  return true;
}

std::string sha256_digest(std::string_view bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned char c : md) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

[[noreturn]] void invalid(const std::string& why) { throw std::invalid_argument("skill entry: " + why); }

}  // namespace

std::string Skill::root() const {
  return ends_with(uri, skill_md) ? uri.substr(0, uri.size() - skill_md.size()) : uri;
}

const SkillFile* Skill::file(std::string_view file_uri) const noexcept {
  if (!files) return nullptr;
  for (const auto& f : *files)
    if (f.uri == file_uri) return &f;
  return nullptr;
}

std::string Skill::resolve(std::string_view relative) const {
  while (relative.substr(0, 2) == "./") relative.remove_prefix(2);
  return root() + "/" + std::string(relative);
}

void from_json(const json& j, Skill& v) {
  if (!j.is_object()) invalid("not an object");
  auto uri = j.find("uri");
  if (uri == j.end() || !uri->is_string()) invalid("no string 'uri'");
  v.uri = uri->get<std::string>();
  if (!ends_with(v.uri, skill_md) || v.uri.size() == skill_md.size()) invalid("'uri' " + v.uri + " does not name a SKILL.md");
  auto fm = j.find("frontmatter");
  if (fm == j.end() || !fm->is_object()) invalid(v.uri + ": no 'frontmatter' object");
  auto name = fm->find("name");
  auto description = fm->find("description");
  if (name == fm->end() || !name->is_string() || name->get_ref<const std::string&>().empty())
    invalid(v.uri + ": frontmatter has no 'name'");
  if (description == fm->end() || !description->is_string())
    invalid(v.uri + ": frontmatter has no 'description'");
  v.name = name->get<std::string>();
  v.description = description->get<std::string>();
  if (name_in(v.uri) != v.name) invalid(v.uri + ": the last path segment is not the frontmatter name '" + v.name + "'");
  v.frontmatter = *fm;
  auto res = j.find("resources");
  if (res == j.end()) invalid(v.uri + ": no 'resources'");
  if (res->is_string() && res->get_ref<const std::string&>() == "dynamic") {
    v.files.reset();
    return;
  }
  if (!res->is_array()) invalid(v.uri + ": 'resources' is neither an array nor \"dynamic\"");
  std::vector<SkillFile> files;
  files.reserve(std::min<std::size_t>(res->size(), SkillLimits::max_files + 1));
  std::set<std::string> seen;
  const std::string prefix = v.root() + "/";
  bool has_skill_md = false;
  for (const auto& f : *res) {
    if (!f.is_object()) invalid(v.uri + ": a resources entry is not an object");
    auto fu = f.find("uri");
    auto fd = f.find("digest");
    auto fs = f.find("size");
    if (fu == f.end() || !fu->is_string()) invalid(v.uri + ": a resources entry has no string 'uri'");
    SkillFile sf;
    sf.uri = fu->get<std::string>();
    if (fd == f.end() || !fd->is_string() || !well_formed_digest(fd->get<std::string>()))
      invalid(sf.uri + ": 'digest' is not sha256: and 64 lowercase hex digits");
    if (fs == f.end() || !fs->is_number_integer() || (!fs->is_number_unsigned() && fs->get<std::int64_t>() < 0))
      invalid(sf.uri + ": 'size' is not a non-negative integer");
    sf.digest = fd->get<std::string>();
    sf.size = fs->get<std::uint64_t>();
    if (sf.uri.compare(0, prefix.size(), prefix) != 0 || sf.uri.size() == prefix.size())
      invalid(sf.uri + " is not a file of the skill " + v.uri);
    if (sf.uri.find("/../") != std::string::npos || ends_with(sf.uri, "/..") ||
        sf.uri.find("/./") != std::string::npos)
      invalid(sf.uri + ": dot segments in a file URI");
    if (!seen.insert(sf.uri).second) invalid(sf.uri + " is listed twice");
    has_skill_md = has_skill_md || sf.uri == v.uri;
    files.push_back(std::move(sf));
  }
  if (!has_skill_md) invalid(v.uri + ": 'resources' does not list the SKILL.md itself");
  v.files = std::move(files);
}

void to_json(json& j, const Skill& v) {
  j = json{{"uri", v.uri}, {"frontmatter", v.frontmatter}};
  if (!v.files) {
    j["resources"] = "dynamic";
    return;
  }
  json files = json::array();
  for (const auto& f : *v.files) files.push_back({{"uri", f.uri}, {"digest", f.digest}, {"size", f.size}});
  j["resources"] = std::move(files);
}

Result<json> parse_skill_frontmatter(std::string_view text) {
  auto bad = [](const std::string& why) { return fail(Errc::invalid_frontmatter, "SKILL.md frontmatter: " + why); };
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  // The block: a first line "---", then everything up to the next line that is "---".
  auto first_end = text.find('\n');
  if (first_end == std::string_view::npos) return bad("SKILL.md does not begin with a --- line");
  std::string_view first = text.substr(0, first_end);
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  if (first != "---") return bad("SKILL.md does not begin with a --- line");
  std::size_t body = first_end + 1, at = body, end = std::string_view::npos;
  while (at <= text.size()) {
    auto nl = text.find('\n', at);
    std::string_view line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line == "---") {
      end = at;
      break;
    }
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  if (end == std::string_view::npos) return bad("no closing --- line");
  json fm;
  try {
    fm = detail::read_frontmatter_yaml(text.substr(body, end - body));
  } catch (const std::exception& e) {
    return bad(e.what());
  }
  if (!fm.is_object()) return bad("not a mapping");
  if (!fm.contains("name") || !fm["name"].is_string()) return bad("no string 'name'");
  if (!fm.contains("description") || !fm["description"].is_string()) return bad("no string 'description'");
  return fm;
}

Result<void> check_skill_limits(const Skill& skill) {
  if (!skill.files) return {};
  if (skill.files->size() > SkillLimits::max_files)
    return fail(Errc::limit_exceeded, skill.uri + " lists " + std::to_string(skill.files->size()) +
                                          " files, more than the " + std::to_string(SkillLimits::max_files) +
                                          " a host must support; the skill is declined");
  std::uint64_t total = 0;
  for (const auto& f : *skill.files) {
    total += std::min<std::uint64_t>(f.size, SkillLimits::max_total_size + 1);
    if (total > SkillLimits::max_total_size)
      return fail(Errc::limit_exceeded, skill.uri + ": its files add up to more than 16 MiB, the most a host must "
                                                    "support; the skill is declined");
  }
  return {};
}

Result<void> verify_skill_file(const Skill& skill, std::string_view file_uri, std::string_view bytes) {
  const std::string uri(file_uri);
  if (skill.files) {
    const SkillFile* f = skill.file(file_uri);
    if (!f)
      return fail(Errc::file_not_listed, uri + " is not among the files of " + skill.uri +
                                             "; fetch the skill's entry again (skills/get) to read files added since");
    if (bytes.size() != f->size)
      return fail(Errc::size_mismatch, uri + ": read " + std::to_string(bytes.size()) + " bytes, the entry says " +
                                           std::to_string(f->size) + "; the content is not used (fetch the skill's entry again: skills/get)");
    if (sha256_digest(bytes) != f->digest)
      return fail(Errc::digest_mismatch, uri + ": the content does not match the entry's digest; it is not used "
                                               "(fetch the skill's entry again: skills/get)");
  }
  if (uri != skill.uri) return {};
  auto fm = parse_skill_frontmatter(bytes);
  if (!fm) {
    fm.error().message = skill.uri + ": " + fm.error().message + "; the skill is not loaded";
    return fail(std::move(fm.error()));
  }
  std::set<std::string> keys;
  for (const auto& [k, _] : fm->items()) keys.insert(k);
  for (const auto& [k, _] : skill.frontmatter.items()) keys.insert(k);
  for (const auto& k : keys) {
    const json file_value = fm->contains(k) ? (*fm)[k] : json();
    const json entry_value = skill.frontmatter.contains(k) ? skill.frontmatter[k] : json();
    if (file_value != entry_value)
      return fail(Errc::frontmatter_mismatch, skill.uri + ": the frontmatter field '" + k +
                                                  "' differs from the entry's; the skill is not loaded");
  }
  return {};
}

}  // namespace mcp
