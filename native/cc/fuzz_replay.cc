// Plain (g++, no libFuzzer) driver for native/cc/fuzz_decoder.cc: replays every input of
// the kept corpus, so each crash the fuzzer ever found stays fixed (npm test), and writes
// the hand-made seed inputs the corpus started from.
//
//   fuzz_replay <file-or-dir>...        replays; prints "ok inputs=N"
//   fuzz_replay --make-seeds <dir>      writes the seed inputs
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../coding.h"
#include "../log_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using namespace hashlog;

std::string Record(RecordType type, uint64_t seq, const std::string& key, const std::string& value) {
  std::string r(RecordSize(key.size(), value.size()), '\0');
  EncodeRecord(&r[0], type, seq, 0, Slice(key.data(), key.size()), Slice(value.data(), value.size()));
  return r;
}

std::string Batch(uint64_t first_seq, int n) {
  std::string inner;
  for (int i = 0; i < n; i++) inner += Record(kTypePut, first_seq + i, "b" + std::to_string(i), "v");
  std::string r(kRecordHeaderSize, '\0');
  r += inner;
  EncodeHeaderInPlace(&r[0], kTypeBatch, first_seq + n - 1, 0, 0, static_cast<uint32_t>(inner.size()));
  return r;
}

void Write(const std::string& dir, const std::string& name, const std::string& data) {
  std::ofstream(dir + "/" + name, std::ios::binary) << data;
}

void MakeSeeds(const std::string& dir) {
  mkdir(dir.c_str(), 0755);
  const std::string one(1, '\0');   // layout byte: one segment
  const std::string two(1, '\xc8');  // two segments, split where the next two bytes say
  const std::string puts = Record(kTypePut, 1, "a", "1") + Record(kTypePut, 2, "b", "22") +
                           Record(kTypeDelete, 3, "a", "") + Record(kTypePut, 4, "a", "333");
  Write(dir, "seed-puts", one + puts);
  Write(dir, "seed-batch", one + Record(kTypePut, 1, "x", "y") + Batch(2, 3) + Record(kTypeDelete, 5, "b1", ""));
  Write(dir, "seed-clear", one + Record(kTypePut, 1, "x", "y") + Record(kTypeClear, 2, "", "") +
                               Record(kTypePut, 3, "z", "w"));
  std::string torn = puts + Record(kTypePut, 5, "torn", std::string(100, 't'));
  torn.resize(torn.size() - 40);
  Write(dir, "seed-torn-tail", one + torn);
  std::string torn_batch = puts + Batch(5, 4);
  torn_batch.resize(torn_batch.size() - 20);
  Write(dir, "seed-torn-batch", one + torn_batch);
  std::string bad = puts;
  bad[40] ^= 1;  // a bad CRC before intact records: mid-log damage
  Write(dir, "seed-mid-damage", one + bad);
  std::string split(2, '\0');
  EncodeFixed16(&split[0], static_cast<uint16_t>(Record(kTypePut, 1, "a", "1").size() * 2));
  Write(dir, "seed-two-segments", two + split + puts);
  Write(dir, "seed-zero-tail", one + puts + std::string(300, '\0'));
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Collect(const std::string& path, std::vector<std::string>* files) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    files->push_back(path);
    return;
  }
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return;
  while (struct dirent* e = readdir(d))
    if (e->d_name[0] != '.') Collect(path + "/" + e->d_name, files);
  closedir(d);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--make-seeds") {
    MakeSeeds(argv[2]);
    return 0;
  }
  std::vector<std::string> files;
  for (int i = 1; i < argc; i++) Collect(argv[i], &files);
  for (const std::string& f : files) {
    std::string data = Read(f);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  }
  std::printf("ok inputs=%zu\n", files.size());
  return files.empty() ? 1 : 0;
}
