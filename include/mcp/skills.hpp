// SPDX-License-Identifier: MIT
#pragma once
/// @file skills.hpp
/// The Skills extension (`io.modelcontextprotocol/skills`, SEP-2640), client side: what
/// `skills/list` and `skills/get` describe, and the checks a host makes on what it reads.
/// Session and Client send the requests (list_skills, get_skill, load_skill, read_skill_file,
/// read_directory); the functions here need no server.
///
/// A skill's files are never fetched ahead of need: listing and getting a skill read no file.
/// `load_skill` reads its SKILL.md, `read_skill_file` one supporting file, each verified against
/// the entry (size, SHA-256 digest; for SKILL.md also its YAML frontmatter, field by field).
/// Content that fails verification is never returned.
///
/// Thread-safety: the types are plain values; the functions are pure.

#include <mcp/error.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mcp {

/// The extension's identifier in `capabilities.extensions`.
inline constexpr std::string_view skills_extension = "io.modelcontextprotocol/skills";

/// One file of a skill, as its entry lists it.
struct SkillFile {
  std::string uri;         ///< resource URI of the file
  std::string digest;      ///< "sha256:" + 64 lowercase hex digits, of the file's raw bytes
  std::uint64_t size = 0;  ///< length in bytes of the file's raw content
};

/// A skill entry (`skills/list`, `skills/get`).
struct Skill {
  std::string uri;          ///< resource URI of the skill's SKILL.md
  std::string name;         ///< frontmatter `name` (a label, not unique: identify skills by server + uri)
  std::string description;  ///< frontmatter `description`
  nlohmann::json frontmatter = nlohmann::json::object();  ///< the whole frontmatter, as the entry sent it
  /// Every file of the skill (SKILL.md included); nullopt when the server marks the skill
  /// `"dynamic"` (its files have no published digests and cannot be verified).
  std::optional<std::vector<SkillFile>> files;

  /// True for a `"dynamic"` skill.
  [[nodiscard]] bool dynamic() const noexcept { return !files; }
  /// The skill's root directory: `uri` without "/SKILL.md".
  [[nodiscard]] std::string root() const;
  /// The listed file with this URI, or nullptr.
  [[nodiscard]] const SkillFile* file(std::string_view file_uri) const noexcept;
  /// A reference relative to the skill's root ("references/FORMS.md") as a URI.
  [[nodiscard]] std::string resolve(std::string_view relative) const;
};
/// Parses and checks an entry; throws (nlohmann::json's exceptions or std::invalid_argument)
/// when it is invalid: no `uri` ending in /SKILL.md, a frontmatter without string `name` and
/// `description` or whose name is not the URI's last path segment, `resources` neither an array
/// nor "dynamic", a file entry without a well-formed digest and size, a file outside the skill,
/// a file listed twice, or no entry for SKILL.md itself.
void from_json(const nlohmann::json& j, Skill& v);
/// The entry as the protocol spells it.
void to_json(nlohmann::json& j, const Skill& v);

/// The per-skill limits every host supports (SEP-2640 "Limits"); larger skills are declined.
struct SkillLimits {
  static constexpr std::size_t max_files = 512;                     ///< entries of `resources`
  static constexpr std::uint64_t max_total_size = 16u * 1024 * 1024;  ///< sum of `size` (16 MiB)
};

/// A verified file of a skill.
struct SkillFileContent {
  std::string uri;                       ///< the file's URI
  std::optional<std::string> mime_type;  ///< as the server sent it
  std::string bytes;                     ///< the raw content (text as UTF-8, a blob decoded)
  bool text = true;                      ///< sent as text (false: as a base64 blob)
  /// True when checked against a digest and size; false for a `"dynamic"` skill's files
  /// (whose SKILL.md frontmatter is still compared with the entry's).
  bool verified = false;
};

/// The YAML frontmatter at the start of a SKILL.md, as JSON. Errc::invalid_frontmatter when
/// there is none, it is not a mapping, lacks a string `name` or `description`, or uses YAML
/// this parser refuses (anchors, aliases, tags, complex keys, several documents): an
/// unreadable frontmatter cannot be compared, so the skill cannot be loaded.
[[nodiscard]] Result<nlohmann::json> parse_skill_frontmatter(std::string_view skill_md);

/// Checks `bytes` read from `file_uri` against `skill`'s entry: Errc::file_not_listed (not in
/// the entry), Errc::size_mismatch, Errc::digest_mismatch; for the SKILL.md also
/// Errc::invalid_frontmatter and Errc::frontmatter_mismatch. For a dynamic skill only the
/// SKILL.md's frontmatter is checked.
[[nodiscard]] Result<void> verify_skill_file(const Skill& skill, std::string_view file_uri, std::string_view bytes);

/// Errc::limit_exceeded when the entry lists more files or more bytes than SkillLimits.
[[nodiscard]] Result<void> check_skill_limits(const Skill& skill);

}  // namespace mcp
