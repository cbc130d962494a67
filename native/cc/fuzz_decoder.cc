// Fuzz target for the record decoder and recovery (libFuzzer entry point; also linked into
// the plain g++ replay driver, native/cc/fuzz_replay.cc). docs/RELIABILITY.md, "Fuzzing".
//
// Input: byte 0 picks the layout, the rest is log bytes.
//   - DecodeRecord runs on the bytes as they are (and on every inner record of a batch);
//   - the bytes become the body of one segment (after a valid header), or of two segments
//     split at a point chosen by bytes 1-2, and the store is opened plainly and with repair.
// Any open may fail, but only with kCorruption (or kNotSupported for a newer format); an
// open store answers every key it lists, consistently. Crashes and sanitizer reports are
// the findings.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../log_format.h"
#include "../segment.h"
#include "../store.h"

namespace {

using namespace hashlog;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_decoder: %s\n", what);
    std::abort();
  }
}

// Plain POSIX, not DefaultFileSystem(): this also runs from a static destructor, after the
// file system's own static may be gone (found by ASan).
void Clear(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  closedir(d);
  for (const std::string& n : names) unlink((dir + "/" + n).c_str());
}

// One scratch directory per process (libFuzzer runs inputs one after another), removed at exit.
struct Scratch {
  std::string dir;
  Scratch() {
    const char* base = std::getenv("HASHLOG_FUZZ_DIR");
    dir = std::string(base != nullptr ? base : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")) +
          "/hashlog-fuzz-" + std::to_string(getpid());
    mkdir(dir.c_str(), 0755);
  }
  ~Scratch() {
    Clear(dir);
    rmdir(dir.c_str());
  }
};

const std::string& ScratchDir() {
  static Scratch scratch;
  return scratch.dir;
}

void WriteSegment(const std::string& dir, uint64_t number, const uint8_t* body, size_t n) {
  char header[kSegmentHeaderSize];
  EncodeSegmentHeader(header, number);
  std::string data(header, sizeof(header));
  data.append(reinterpret_cast<const char*>(body), n);
  const std::string path = dir + "/" + Segment::FileName(number);
  FILE* f = std::fopen(path.c_str(), "wb");
  Check(f != nullptr, "cannot write the scratch segment");
  std::fwrite(data.data(), 1, data.size(), f);
  std::fclose(f);
}

// Byte 0 picks one segment (< 128) or two split where bytes 1-2 say.
void WriteInput(const std::string& dir, const uint8_t* data, size_t size) {
  Clear(dir);
  const uint8_t* body = data + 1;
  size_t n = size - 1;
  if (data[0] < 128 || n < 3) {
    WriteSegment(dir, 1, body, n);
    return;
  }
  size_t split = (static_cast<size_t>(body[0]) << 8 | body[1]) % (n - 2);
  WriteSegment(dir, 1, body + 2, split);
  WriteSegment(dir, 2, body + 2 + split, n - 2 - split);
}

void DecodeAll(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  size_t pos = 0;
  while (pos < size) {
    RecordHeader h;
    DecodeResult r = DecodeRecord(p + pos, size - pos, &h);
    if (r != DecodeResult::kOk) {
      pos++;
      continue;
    }
    Check(h.total_size() <= size - pos, "a decoded record runs past the input");
    if (h.type == kTypeBatch) {
      size_t at = pos + kRecordHeaderSize, end = pos + h.total_size();
      RecordHeader inner;
      while (at < end && DecodeRecord(p + at, end - at, &inner) == DecodeResult::kOk) at += inner.total_size();
      Check(at <= end, "an inner record runs past its batch");
    }
    pos += h.total_size();
  }
}

void OpenAndRead(const std::string& dir, bool repair) {
  StoreOptions o;
  o.repair = repair;
  o.segment_size = 1 << 20;
  o.prealloc_chunk = 4096;
  std::unique_ptr<Store> store;
  Status s = Store::Open(DefaultFileSystem(), dir, o, [](const FlushEvent&) {}, &store);
  if (!s.ok()) {
    Check(s.code() == Status::kCorruption || s.code() == Status::kNotSupported, s.message().c_str());
    return;
  }
  // Every key the index lists can be read, and says the same to get, has and getMany.
  std::vector<std::string> keys;
  uint64_t cursor = 0, next = 0;
  std::vector<char> buf(1 << 16);
  do {
    store->Scan(cursor, 64, &keys, &next);
    for (const std::string& k : keys) {
      size_t size = 0;
      Status g = store->Get(Slice(k.data(), k.size()), buf.data(), buf.size(), &size);
      Check(g.ok(), "a scanned key cannot be read");
      Check(store->Has(Slice(k.data(), k.size())), "a scanned key is not there");
    }
    cursor = next;
  } while (next != 0);
  uint64_t gen = 0;
  Check(store->Put(Slice("k", 1), Slice("v", 1), 0, &gen).ok(), "the recovered store refuses a put");
  store->Close();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  DecodeAll(data + 1, size - 1);
  const std::string& dir = ScratchDir();
  WriteInput(dir, data, size);
  OpenAndRead(dir, false);
  // The plain open may have cut a torn tail: rebuild the files for the repair open.
  WriteInput(dir, data, size);
  OpenAndRead(dir, true);
  Clear(dir);
  return 0;
}
