#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

int main(int argc, char** argv) {
  // Sanitizer runtimes start helper threads lazily, on the first thread the program
  // creates; start one now so the tests' thread counts compare like with like.
  std::thread([] {}).join();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
