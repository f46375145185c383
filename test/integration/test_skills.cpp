// Skills (SEP-2640) against a real server process: test/fixtures/skills_server (not built on
// libmcp), in both eras, well-behaved and with the faults a host must refuse.
#include "helpers.hpp"

#include <mcp/client.hpp>

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace {

struct SkillsFixture {
  std::string log = "/tmp/mcp-skills-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++) + ".log";
  mcp::Client client;

  explicit SkillsFixture(std::vector<std::string> args, const std::string& era = "legacy")
      : client(make(args, era, log)) {}
  ~SkillsFixture() {
    client.disconnect();
    std::remove(log.c_str());
  }

  static int& counter() {
    static int c = 0;
    return c;
  }
  static mcp::Client make(std::vector<std::string> args, const std::string& era, const std::string& log) {
    mcp::StdioServerConfig st;
    st.command = SKILLS_SERVER_PATH;
    st.args = {"--era", era, "--log", log};
    st.args.insert(st.args.end(), args.begin(), args.end());
    st.shutdown_grace = std::chrono::milliseconds(500);
    mcp::ServerConfig sc;
    sc.transport = std::move(st);
    sc.request_timeout = std::chrono::milliseconds(10000);
    auto c = mcp::Client::create(testutil::one("skills", std::move(sc)));
    REQUIRE(c);
    return std::move(*c);
  }

  // The requests the server received, "method uri" a line.
  std::vector<std::string> requests() const {
    std::ifstream in(log);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  std::size_t reads() const {
    std::size_t n = 0;
    for (const auto& r : requests())
      if (r.rfind("resources/read ", 0) == 0) ++n;
    return n;
  }
  bool read_of(const std::string& uri) const {
    for (const auto& r : requests())
      if (r == "resources/read " + uri) return true;
    return false;
  }

  std::vector<mcp::Skill> list() {
    auto l = client.list_skills();
    REQUIRE(l.errors.empty());
    return l.value["skills"];
  }
  mcp::Skill skill(const std::string& name) {
    for (auto& s : list())
      if (s.name == name) return s;
    FAIL("no skill " << name);
    return {};
  }
};

const std::string kPdf = "skill://pdf-processing/SKILL.md";
const std::string kForms = "skill://pdf-processing/references/FORMS.md";

}  // namespace

TEST_CASE("skills: list, load and read, verified, in both eras, with nothing fetched ahead of need") {
  for (std::string era : {"legacy", "modern"}) {
    CAPTURE(era);
    SkillsFixture f({}, era);
    auto skills = f.list();  // three skills over two pages
    REQUIRE(skills.size() == 3);
    CHECK(skills[0].uri == kPdf);
    CHECK(skills[0].frontmatter["metadata"]["tags"] == nlohmann::json({"pdf", "forms"}));
    CHECK(skills[1].name == "refunds");
    CHECK(skills[1].root() == "skill://acme/billing/refunds");
    CHECK(skills[2].dynamic());
    CHECK(f.reads() == 0);  // listing reads no file

    const auto& pdf = skills[0];
    auto md = f.client.load_skill("skills", pdf);
    REQUIRE_MESSAGE(md, md.error().what());
    CHECK(md->verified);
    CHECK(md->bytes.find("# PDF processing") != std::string::npos);
    CHECK(f.reads() == 1);  // the SKILL.md only

    auto forms = f.client.read_skill_file("skills", pdf, pdf.resolve("references/FORMS.md"));
    REQUIRE_MESSAGE(forms, forms.error().what());
    CHECK(forms->bytes == "# Forms\n\nField-by-field instructions.\n");
    auto script = f.client.read_skill_file("skills", pdf, "skill://pdf-processing/scripts/extract.py");
    REQUIRE_MESSAGE(script, script.error().what());
    CHECK(!script->text);
    CHECK(script->bytes.substr(script->bytes.size() - 3) == std::string("\x00\x01\xff", 3));

    // A file the entry does not list is not even requested.
    const std::size_t before = f.reads();
    auto unlisted = f.client.read_skill_file("skills", pdf, "skill://pdf-processing/references/NEW.md");
    REQUIRE(!unlisted);
    CHECK(unlisted.error().errc() == mcp::Errc::file_not_listed);
    CHECK(unlisted.error().server == "skills");
    CHECK(f.reads() == before);

    // skills/get: listed or not; an unknown URI is the server's -32602.
    auto got = f.client.get_skill("skills", "skill://acme/billing/refunds/SKILL.md");
    REQUIRE_MESSAGE(got, got.error().what());
    CHECK(got->description == "Process refunds: per policy");
    auto refunds = f.client.load_skill("skills", *got);
    CHECK_MESSAGE(refunds, (refunds ? "" : refunds.error().what()));
    auto unknown = f.client.get_skill("skills", "skill://nope/SKILL.md");
    REQUIRE(!unknown);
    CHECK(unknown.error().rpc_code == -32602);

    // A dynamic skill loads unverified (its frontmatter is still compared).
    auto live = f.client.load_skill("skills", skills[2]);
    REQUIRE_MESSAGE(live, live.error().what());
    CHECK(!live->verified);
  }
}

TEST_CASE("skills: directory reads, paginated, and refused when not declared") {
  SkillsFixture f({});
  auto root = f.client.read_directory("skills", "skill://pdf-processing");
  REQUIRE_MESSAGE(root, root.error().what());
  std::set<std::string> names;
  for (const auto& r : *root) names.insert(r.name + (r.mime_type == "inode/directory" ? "/" : ""));
  CHECK(names == std::set<std::string>{"SKILL.md", "references/", "scripts/", "templates/"});  // two pages
  auto templates = f.client.read_directory("skills", "skill://pdf-processing/templates");
  REQUIRE(templates);
  CHECK(templates->size() == 2);
  auto file = f.client.read_directory("skills", kPdf);
  REQUIRE(!file);
  CHECK(file.error().rpc_code == -32602);

  SkillsFixture without({"--no-directory-read"});
  auto refused = without.client.read_directory("skills", "skill://pdf-processing");
  REQUIRE(!refused);
  CHECK(refused.error().errc() == mcp::Errc::extension_not_supported);
  for (const auto& r : without.requests()) CHECK(r.rfind("resources/directory/read", 0) != 0);
}

TEST_CASE("skills: a server without the extension") {
  SkillsFixture f({"--no-extension"});
  auto all = f.client.list_skills();  // lists nothing, as a server without tools lists no tools
  CHECK(all.errors.empty());
  CHECK(all.value["skills"].empty());
  auto s = f.client.session("skills");
  REQUIRE(s);
  auto listed = (*s)->list_skills();
  REQUIRE(!listed);
  CHECK(listed.error().errc() == mcp::Errc::extension_not_supported);
  auto got = f.client.get_skill("skills", kPdf);
  REQUIRE(!got);
  CHECK(got.error().errc() == mcp::Errc::extension_not_supported);
  for (const auto& r : f.requests()) CHECK(r.rfind("skills/", 0) != 0);  // nothing was sent
}

TEST_CASE("skills: content that fails verification is refused, and the skill goes no further") {
  struct Case {
    const char* fault;
    mcp::Errc errc;
  };
  for (auto c : {Case{"digest", mcp::Errc::digest_mismatch}, Case{"size", mcp::Errc::size_mismatch},
                 Case{"frontmatter", mcp::Errc::frontmatter_mismatch}, Case{"no-frontmatter", mcp::Errc::invalid_frontmatter},
                 Case{"yaml-anchor", mcp::Errc::invalid_frontmatter}, Case{"deep-yaml", mcp::Errc::invalid_frontmatter}}) {
    CAPTURE(c.fault);
    SkillsFixture f({"--fault", c.fault}, "modern");
    auto pdf = f.skill("pdf-processing");
    auto md = f.client.load_skill("skills", pdf);
    REQUIRE(!md);
    CHECK(md.error().errc() == c.errc);
    CHECK(md.error().kind() == mcp::ErrorKind::protocol);
    CHECK(md.error().server == "skills");
    CHECK(!f.read_of(kForms));
  }
  SkillsFixture forms({"--fault", "forms-digest"});
  auto pdf = forms.skill("pdf-processing");
  REQUIRE(forms.client.load_skill("skills", pdf));
  auto r = forms.client.read_skill_file("skills", pdf, kForms);
  REQUIRE(!r);
  CHECK(r.error().errc() == mcp::Errc::digest_mismatch);
}

TEST_CASE("skills: hostile listings and replies get typed errors") {
  {
    SkillsFixture f({"--fault", "huge"});
    auto huge = f.skill("huge");
    CHECK(huge.files->size() == 513);
    auto r = f.client.load_skill("skills", huge);
    REQUIRE(!r);
    CHECK(r.error().errc() == mcp::Errc::limit_exceeded);
    CHECK(f.reads() == 0);  // declined from the entry alone
  }
  {
    SkillsFixture f({"--fault", "garbage-entries"});
    auto skills = f.list();  // the invalid entries are skipped
    CHECK(skills.size() == 3);
  }
  for (const char* fault : {"garbage-list", "cursor-loop"}) {
    CAPTURE(fault);
    SkillsFixture f({"--fault", fault});
    auto l = f.client.list_skills();
    REQUIRE(l.errors.count("skills"));
    CHECK(l.errors["skills"].errc() == mcp::Errc::invalid_result);
  }
  {
    SkillsFixture f({"--fault", "get-other"});
    auto r = f.client.get_skill("skills", kPdf);
    REQUIRE(!r);
    CHECK(r.error().errc() == mcp::Errc::invalid_result);
  }
  {
    SkillsFixture f({"--fault", "bad-blob"});
    auto pdf = f.skill("pdf-processing");
    auto r = f.client.read_skill_file("skills", pdf, "skill://pdf-processing/scripts/extract.py");
    REQUIRE(!r);
    CHECK(r.error().errc() == mcp::Errc::invalid_result);
  }
}

TEST_CASE("skills: the asynchronous calls") {
  SkillsFixture f({}, "modern");
  auto listed = f.client.async_list_skills(mcp::RequestOptions{}, mcp::use_future).get();
  REQUIRE(listed);
  REQUIRE(listed->value["skills"].size() == 3);
  auto pdf = listed->value["skills"][0];
  auto md = f.client.async_load_skill("skills", pdf, mcp::RequestOptions{}, mcp::use_future).get();
  REQUIRE_MESSAGE(md, md.error().what());
  CHECK(md->verified);
  auto got = f.client.async_get_skill("skills", kPdf, mcp::RequestOptions{}, mcp::use_future).get();
  REQUIRE(got);
  CHECK(got->uri == kPdf);
  auto dir = f.client.async_read_directory("skills", "skill://pdf-processing/templates", mcp::RequestOptions{},
                                           mcp::use_future).get();
  REQUIRE(dir);
  CHECK(dir->size() == 2);
  auto unlisted = f.client.async_read_skill_file("skills", pdf, "skill://pdf-processing/x", mcp::RequestOptions{},
                                                 mcp::use_future).get();
  REQUIRE(!unlisted);
  CHECK(unlisted.error().errc() == mcp::Errc::file_not_listed);
  auto unknown = f.client.async_get_skill("nope", kPdf, mcp::RequestOptions{}, mcp::use_future).get();
  REQUIRE(!unknown);
  CHECK(unknown.error().errc() == mcp::Errc::unknown_server);
  SkillsFixture tampered({"--fault", "digest"});
  auto s = tampered.skill("pdf-processing");
  auto bad = tampered.client.async_load_skill("skills", s, mcp::RequestOptions{}, mcp::use_future).get();
  REQUIRE(!bad);
  CHECK(bad.error().errc() == mcp::Errc::digest_mismatch);
}
