// A deterministic stand-in for libFuzzer, linked with a fuzz target so that its entry
// point runs in every build and in CI, whatever the compiler. It feeds the target:
//   1. every file named on the command line (or found in a named directory): the
//      regression inputs of earlier crashes;
//   2. edge cases: the empty input, every single byte, runs of 0x00 and 0xFF;
//   3. the target's seeds, unchanged;
//   4. --runs pseudo-random inputs (default 200000) from --seed: random bytes, and seeds
//      mutated by byte flips, truncation, insertion, duplication and splicing.
// Each input is copied into a heap buffer of exactly its size, so a sanitizer build
// reports any read past the end. --write_corpus=DIR writes the seeds as files there, as
// a starting corpus for the real libFuzzer binary.

#include "fuzz_driver.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

uint64_t g_inputs = 0;

void RunOne(const std::string& input) {
  std::unique_ptr<uint8_t[]> buf(new uint8_t[input.empty() ? 1 : input.size()]);
  if (!input.empty()) std::memcpy(buf.get(), input.data(), input.size());
  LLVMFuzzerTestOneInput(buf.get(), input.size());
  ++g_inputs;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Mutate(const std::vector<std::string>& seeds, std::mt19937_64& rng) {
  std::string s = seeds.empty() ? std::string() : seeds[rng() % seeds.size()];
  const int steps = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < steps; ++i) {
    switch (rng() % 6) {
      case 0:  // Flip bits of one byte.
        if (!s.empty()) s[rng() % s.size()] ^= static_cast<char>(1 + rng() % 255);
        break;
      case 1:  // Truncate.
        if (!s.empty()) s.resize(rng() % s.size());
        break;
      case 2:  // Insert a random byte.
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(rng() % (s.size() + 1)),
                 static_cast<char>(rng()));
        break;
      case 3:  // Set a byte to an interesting value.
        if (!s.empty()) {
          static const char kInteresting[] = {'\0', '\x01', '\x7f', '\x80', '\xf7', '\xff'};
          s[rng() % s.size()] = kInteresting[rng() % sizeof(kInteresting)];
        }
        break;
      case 4:  // Duplicate a tail.
        if (!s.empty()) s += s.substr(rng() % s.size());
        break;
      default:  // Splice with another seed.
        if (!seeds.empty()) {
          const std::string& other = seeds[rng() % seeds.size()];
          s = s.substr(0, s.empty() ? 0 : rng() % s.size()) +
              other.substr(other.empty() ? 0 : rng() % other.size());
        }
        break;
    }
  }
  return s;
}

std::string RandomBytes(std::mt19937_64& rng) {
  std::string s(rng() % 65, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t runs = 200000;
  uint64_t seed = 1;
  std::string write_corpus;
  std::vector<std::filesystem::path> paths;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.rfind("--runs=", 0) == 0) {
      runs = std::stoull(std::string(arg.substr(7)));
    } else if (arg.rfind("--seed=", 0) == 0) {
      seed = std::stoull(std::string(arg.substr(7)));
    } else if (arg.rfind("--write_corpus=", 0) == 0) {
      write_corpus = std::string(arg.substr(15));
    } else {
      paths.emplace_back(arg);
    }
  }

  const std::vector<std::string> seeds = rutile::fuzz::FuzzSeeds();
  if (!write_corpus.empty()) {
    std::filesystem::create_directories(write_corpus);
    for (size_t i = 0; i < seeds.size(); ++i) {
      std::ofstream out(std::filesystem::path(write_corpus) / ("seed-" + std::to_string(i)),
                        std::ios::binary);
      out << seeds[i];
    }
  }

  for (const auto& p : paths) {
    if (std::filesystem::is_directory(p)) {
      for (const auto& entry : std::filesystem::directory_iterator(p)) {
        if (entry.is_regular_file()) RunOne(ReadFile(entry.path()));
      }
    } else {
      RunOne(ReadFile(p));
    }
  }

  RunOne("");
  for (int b = 0; b < 256; ++b) RunOne(std::string(1, static_cast<char>(b)));
  for (size_t n = 1; n <= 40; ++n) {
    RunOne(std::string(n, '\0'));
    RunOne(std::string(n, '\xff'));
  }
  for (const std::string& s : seeds) RunOne(s);

  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i < runs; ++i) {
    RunOne(rng() % 4 == 0 ? RandomBytes(rng) : Mutate(seeds, rng));
  }
  std::cout << "fuzz driver: " << g_inputs << " inputs, " << seeds.size() << " seeds, seed=" << seed
            << ", no invariant violated\n";
  return 0;
}
