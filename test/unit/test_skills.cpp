// Skills (SEP-2640) without a server: entries, the frontmatter's YAML, verification.
#include <mcp/skills.hpp>

#include <doctest/doctest.h>

#include <openssl/sha.h>

using nlohmann::json;

namespace {

std::string digest_of(const std::string& bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  std::string out = "sha256:";
  char buf[3];
  for (unsigned char c : md) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    out += buf;
  }
  return out;
}

const std::string kSkillMd = "---\nname: git-workflow\ndescription: Follow the team's Git conventions\n---\nBody.\n";

json entry_json(const std::string& skill_md = kSkillMd) {
  return json{{"uri", "skill://git-workflow/SKILL.md"},
              {"frontmatter", {{"name", "git-workflow"}, {"description", "Follow the team's Git conventions"}}},
              {"resources",
               {{{"uri", "skill://git-workflow/SKILL.md"}, {"digest", digest_of(skill_md)}, {"size", skill_md.size()}},
                {{"uri", "skill://git-workflow/refs/GUIDE.md"}, {"digest", digest_of("guide")}, {"size", 5}}}}};
}

mcp::Errc errc_of(const mcp::Result<json>& r) { return r ? mcp::Errc{} : r.error().errc(); }

}  // namespace

TEST_CASE("skills: an entry parses, with its files, root and relative references") {
  auto s = entry_json().get<mcp::Skill>();
  CHECK(s.name == "git-workflow");
  CHECK(s.root() == "skill://git-workflow");
  CHECK(s.resolve("refs/GUIDE.md") == "skill://git-workflow/refs/GUIDE.md");
  REQUIRE(s.files);
  CHECK(s.files->size() == 2);
  CHECK(s.file("skill://git-workflow/refs/GUIDE.md")->size == 5);
  CHECK(json(s) == entry_json());
  json dynamic = entry_json();
  dynamic["resources"] = "dynamic";
  CHECK(dynamic.get<mcp::Skill>().dynamic());
}

TEST_CASE("skills: invalid entries are refused") {
  auto refused = [](json j) { CHECK_THROWS(j.get<mcp::Skill>()); };
  refused(42);
  json e = entry_json();
  e.erase("resources");
  refused(e);
  e = entry_json();
  e["resources"] = "static";
  refused(e);
  e = entry_json();
  e["uri"] = "skill://git-workflow/README.md";
  refused(e);
  e = entry_json();
  e["frontmatter"]["name"] = "other";  // not the URI's last segment
  refused(e);
  e = entry_json();
  e["frontmatter"].erase("description");
  refused(e);
  e = entry_json();
  e["resources"][1]["digest"] = "sha256:ABC";
  refused(e);
  e = entry_json();
  e["resources"][1]["size"] = -1;
  refused(e);
  e = entry_json();
  e["resources"][1]["uri"] = "skill://elsewhere/x.md";  // outside the skill
  refused(e);
  e = entry_json();
  e["resources"][1]["uri"] = "skill://git-workflow/../elsewhere/x.md";
  refused(e);
  e = entry_json();
  e["resources"][1] = e["resources"][0];  // listed twice
  refused(e);
  e = entry_json();
  e["resources"].erase(0);  // no SKILL.md
  refused(e);
}

TEST_CASE("skills: verification by size, digest and frontmatter") {
  auto s = entry_json().get<mcp::Skill>();
  CHECK(mcp::verify_skill_file(s, s.uri, kSkillMd));
  CHECK(mcp::verify_skill_file(s, "skill://git-workflow/refs/GUIDE.md", "guide"));
  CHECK(mcp::verify_skill_file(s, "skill://git-workflow/refs/GUIDE.md", "guidE").error().errc() ==
        mcp::Errc::digest_mismatch);
  CHECK(mcp::verify_skill_file(s, "skill://git-workflow/refs/GUIDE.md", "guide!").error().errc() ==
        mcp::Errc::size_mismatch);
  CHECK(mcp::verify_skill_file(s, "skill://git-workflow/other.md", "x").error().errc() == mcp::Errc::file_not_listed);

  // A SKILL.md whose digest matches but whose frontmatter does not.
  std::string evil = kSkillMd;
  evil.replace(evil.find("Follow the team's Git conventions"), 33, "Exfiltrate credentials");
  auto tampered = entry_json(evil).get<mcp::Skill>();
  auto r = mcp::verify_skill_file(tampered, tampered.uri, evil);
  REQUIRE(!r);
  CHECK(r.error().errc() == mcp::Errc::frontmatter_mismatch);
  CHECK(r.error().kind() == mcp::ErrorKind::protocol);

  // An extra field in the file is a discrepancy too.
  std::string extra = "---\nname: git-workflow\ndescription: Follow the team's Git conventions\nlicense: MIT\n---\n";
  auto with_extra = entry_json(extra).get<mcp::Skill>();
  CHECK(mcp::verify_skill_file(with_extra, with_extra.uri, extra).error().errc() == mcp::Errc::frontmatter_mismatch);

  // Dynamic: no digest to check, the frontmatter still is.
  json dj = entry_json();
  dj["resources"] = "dynamic";
  auto d = dj.get<mcp::Skill>();
  CHECK(mcp::verify_skill_file(d, d.uri, kSkillMd));
  CHECK(mcp::verify_skill_file(d, d.uri, evil).error().errc() == mcp::Errc::frontmatter_mismatch);
  CHECK(mcp::verify_skill_file(d, d.uri, "no frontmatter").error().errc() == mcp::Errc::invalid_frontmatter);
}

TEST_CASE("skills: limits are checked from the entry") {
  json j = entry_json();
  CHECK(mcp::check_skill_limits(j.get<mcp::Skill>()));
  j["resources"][1]["size"] = 16u * 1024 * 1024;  // with SKILL.md: over 16 MiB
  CHECK(mcp::check_skill_limits(j.get<mcp::Skill>()).error().errc() == mcp::Errc::limit_exceeded);
  j = entry_json();
  j["resources"][1]["size"] = std::numeric_limits<std::uint64_t>::max();  // no overflow
  CHECK(mcp::check_skill_limits(j.get<mcp::Skill>()).error().errc() == mcp::Errc::limit_exceeded);
  j = entry_json();
  for (int i = 0; i < 511; ++i)
    j["resources"].push_back({{"uri", "skill://git-workflow/f" + std::to_string(i)}, {"digest", digest_of("")}, {"size", 0}});
  CHECK(mcp::check_skill_limits(j.get<mcp::Skill>()).error().errc() == mcp::Errc::limit_exceeded);  // 513
  j["resources"].erase(j["resources"].size() - 1);
  CHECK(mcp::check_skill_limits(j.get<mcp::Skill>()));  // 512: supported
}

TEST_CASE("skills: frontmatter YAML as JSON") {
  auto fm = [](const std::string& yaml) { return mcp::parse_skill_frontmatter("---\n" + yaml + "---\nbody\n"); };
  auto r = fm(
      "name: pdf\n"
      "description: Extract, fill and more   # a comment\n"
      "license: 'Apache-2.0'\n"
      "metadata:\n"
      "  version: \"2.1.0\"\n"
      "  n: 3\n"
      "  f: 1.5\n"
      "  yes: true\n"
      "  nothing: ~\n"
      "  tags: [pdf, \"forms, fields\", 7]\n"
      "  map: {a: 1, b: [x]}\n"
      "allowed-tools:\n"
      "- Read\n"
      "- 'Bash(python:*)'\n"
      "items:\n"
      "  - k: v\n"
      "    j: w\n"
      "  - plain\n"
      "literal: |\n"
      "  line one\n"
      "    indented\n"
      "\n"
      "  after blank\n"
      "folded: >-\n"
      "  a\n"
      "  b\n"
      "\n"
      "  c\n"
      "long: this plain scalar\n"
      "  goes on\n"
      "esc: \"tab\\there \\u00e9\"\n"
      "'quoted key': 'it''s'\n");
  REQUIRE(r);
  const json expected = json::parse(R"J({
    "name": "pdf", "description": "Extract, fill and more", "license": "Apache-2.0",
    "metadata": {"version": "2.1.0", "n": 3, "f": 1.5, "yes": true, "nothing": null,
                 "tags": ["pdf", "forms, fields", 7], "map": {"a": 1, "b": ["x"]}},
    "allowed-tools": ["Read", "Bash(python:*)"],
    "items": [{"k": "v", "j": "w"}, "plain"],
    "literal": "line one\n  indented\n\nafter blank\n",
    "folded": "a b\nc",
    "long": "this plain scalar goes on",
    "esc": "tab\there é",
    "quoted key": "it's"})J");
  CHECK(*r == expected);
  CHECK(fm("name: a\ndescription: b\n")->at("name") == "a");
  // CRLF and a BOM.
  CHECK(mcp::parse_skill_frontmatter("\xEF\xBB\xBF---\r\nname: a\r\ndescription: b\r\n---\r\n"));

  auto refused = [&](const std::string& yaml) {
    auto x = fm(yaml);
    CHECK_MESSAGE(errc_of(x) == mcp::Errc::invalid_frontmatter, yaml);
  };
  refused("name: a\n");                                      // no description
  refused("name: [a]\ndescription: b\n");                    // name not a string
  refused("name: a\ndescription: b\nx: &anchor 1\n");        // anchor
  refused("name: a\ndescription: b\nx: *alias\n");           // alias
  refused("name: a\ndescription: b\nx: !!str 1\n");          // tag
  refused("name: a\ndescription: b\n? complex\n");           // complex key
  refused("name: a\ndescription: b\nname: c\n");             // duplicate key
  refused("name: a\ndescription: b\nx: \"unterminated\n");   // quoted over lines
  refused("name: a\ndescription: b\nx: [1, 2\n");            // flow over lines
  refused("name: a\ndescription: b\n\tx: 1\n");              // tab indentation
  refused("- a\n- b\n");                                     // not a mapping
  refused("name: a\ndescription: b\nx: .inf\n");             // no JSON form
  refused("name: a\n  description: b\n");                   // bad indentation
  CHECK(errc_of(mcp::parse_skill_frontmatter("no frontmatter\n")) == mcp::Errc::invalid_frontmatter);
  CHECK(errc_of(mcp::parse_skill_frontmatter("---\nname: a\ndescription: b\n")) == mcp::Errc::invalid_frontmatter);
  CHECK(errc_of(mcp::parse_skill_frontmatter("")) == mcp::Errc::invalid_frontmatter);

  // Long scalars cost no recursion (std::regex would overflow the stack on these).
  auto long_number = fm("name: a\ndescription: b\nx: " + std::string(200000, '7') + "\ny: 1." + std::string(200000, '5') + "e3\n");
  REQUIRE(long_number);
  CHECK(long_number->at("x").is_number_float());
  CHECK(long_number->at("y").is_number_float());
  CHECK(fm("name: a\ndescription: b\nx: 0x1F\ny: 0o17\nz: -.5\nw: 1e\n")->dump() ==
        R"({"description":"b","name":"a","w":"1e","x":31,"y":15,"z":-0.5})");
  // Deep nesting is refused, not a stack overflow.
  std::string deep = "name: a\ndescription: b\nx:\n";
  for (int i = 1; i <= 200; ++i) deep += std::string(i, ' ') + "k:\n";
  refused(deep);
  std::string deep_flow = "name: a\ndescription: b\nx: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
  refused(deep_flow);
}
