// RecordingFileSystem: the operation log and the crash-image builder (power-cut tests).
#include "recording_file_system.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

namespace hashlog {

std::string RecordingFileSystem::EntryName(const std::string& path) const {
  if (path.size() <= dir_.size() + 1 || path.compare(0, dir_.size(), dir_) != 0 || path[dir_.size()] != '/')
    return std::string();
  std::string name = path.substr(dir_.size() + 1);
  return name.find('/') == std::string::npos ? name : std::string();
}

void RecordingFileSystem::Log(RecordedOp op) { ops_.push_back(std::move(op)); }

void RecordingFileSystem::AddExisting(const std::string& name, const std::string& contents) {
  std::lock_guard<std::mutex> lk(mu_);
  RecordedOp create(RecordedOp::kCreate);
  create.file = next_file_++;
  create.name = name;
  entries_[name] = create.file;
  Log(create);
  RecordedOp write(RecordedOp::kWrite);
  write.file = create.file;
  write.data = contents;
  Log(write);
  RecordedOp sync(RecordedOp::kSync);
  sync.file = create.file;
  Log(sync);
  Log(RecordedOp(RecordedOp::kSyncDir));
}

Status RecordingFileSystem::Open(const std::string& path, int flags, int mode, int* fd) {
  Status s = base_->Open(path, flags, mode, fd);
  const std::string name = EntryName(path);
  if (!s.ok() || name.empty()) return s;
  std::lock_guard<std::mutex> lk(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    // Either O_CREAT made it, or it predates recording (then it counts as created and
    // synced at the start: the tests record from an empty directory, so this is rare).
    RecordedOp op(RecordedOp::kCreate);
    op.file = next_file_++;
    op.name = name;
    Log(op);
    it = entries_.emplace(name, op.file).first;
  }
  fd_file_[*fd] = it->second;
  return s;
}

void RecordingFileSystem::Close(int fd) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    fd_file_.erase(fd);
  }
  base_->Close(fd);
}

Status RecordingFileSystem::Pwrite(int fd, const void* buf, size_t n, uint64_t off, const std::string& path) {
  Status s = base_->Pwrite(fd, buf, n, off, path);
  std::lock_guard<std::mutex> lk(mu_);
  auto it = fd_file_.find(fd);
  // A failed pwrite may still have written some of the bytes: record them all (the crash
  // image then may or may not hold them, like any un-synced write).
  if (it != fd_file_.end() && n > 0) {
    RecordedOp op(RecordedOp::kWrite);
    op.file = it->second;
    op.offset = off;
    op.data.assign(static_cast<const char*>(buf), n);
    Log(op);
  }
  return s;
}

Status RecordingFileSystem::Allocate(int fd, uint64_t off, uint64_t len, const std::string& path) {
  Status s = base_->Allocate(fd, off, len, path);
  std::lock_guard<std::mutex> lk(mu_);
  auto it = fd_file_.find(fd);
  if (it != fd_file_.end() && len > 0) {
    RecordedOp op(RecordedOp::kWrite);
    op.file = it->second;
    op.offset = off;
    op.data.assign(len, '\0');
    Log(op);
  }
  return s;
}

Status RecordingFileSystem::Fdatasync(int fd, const std::string& path) {
  Status s = base_->Fdatasync(fd, path);
  std::lock_guard<std::mutex> lk(mu_);
  auto it = fd_file_.find(fd);
  // Only a sync that returned success makes anything durable.
  if (s.ok() && it != fd_file_.end()) {
    RecordedOp op(RecordedOp::kSync);
    op.file = it->second;
    Log(op);
  }
  return s;
}

Status RecordingFileSystem::SyncDir(const std::string& dir) {
  Status s = base_->SyncDir(dir);
  if (s.ok() && dir == dir_) {
    std::lock_guard<std::mutex> lk(mu_);
    Log(RecordedOp(RecordedOp::kSyncDir));
  }
  return s;
}

Status RecordingFileSystem::Rename(const std::string& from, const std::string& to) {
  Status s = base_->Rename(from, to);
  const std::string a = EntryName(from), b = EntryName(to);
  if (!s.ok() || a.empty() || b.empty()) return s;
  std::lock_guard<std::mutex> lk(mu_);
  auto it = entries_.find(a);
  if (it == entries_.end()) return s;
  RecordedOp op(RecordedOp::kRename);
  op.file = it->second;
  op.name = a;
  op.to = b;
  entries_[b] = it->second;
  entries_.erase(a);
  Log(op);
  return s;
}

Status RecordingFileSystem::Unlink(const std::string& path) {
  Status s = base_->Unlink(path);
  const std::string name = EntryName(path);
  if (!s.ok() || name.empty()) return s;
  std::lock_guard<std::mutex> lk(mu_);
  RecordedOp op(RecordedOp::kUnlink);
  op.name = name;
  entries_.erase(name);
  Log(op);
  return s;
}

Status RecordingFileSystem::Ftruncate(int fd, uint64_t size, const std::string& path) {
  Status s = base_->Ftruncate(fd, size, path);
  std::lock_guard<std::mutex> lk(mu_);
  auto it = fd_file_.find(fd);
  if (s.ok() && it != fd_file_.end()) {
    RecordedOp op(RecordedOp::kTruncate);
    op.file = it->second;
    op.size = size;
    Log(op);
  }
  return s;
}

namespace {

constexpr uint64_t kPage = 4096;

void ApplyWrite(std::string* content, uint64_t off, const char* data, size_t n) {
  if (content->size() < off + n) content->resize(off + n, '\0');
  std::copy(data, data + n, content->begin() + static_cast<ptrdiff_t>(off));
}

// Applies one un-synced op to a file's contents under the policy. `torn` asks for the op to
// be cut short (a prefix of its pages).
void ApplyOp(const RecordedOp& op, std::string* content, CrashPolicy policy, bool torn, std::mt19937_64* rng) {
  if (op.kind == RecordedOp::kTruncate) {
    // A size change is metadata: under kRandomPages it may be lost like any page.
    if (policy == CrashPolicy::kRandomPages && (*rng)() % 2 == 0) return;
    content->resize(op.size, '\0');
    return;
  }
  // Split the write at page boundaries of the file: the unit the page cache writes back.
  uint64_t pos = op.offset;
  const uint64_t end = op.offset + op.data.size();
  std::vector<std::pair<uint64_t, uint64_t>> pieces;
  while (pos < end) {
    uint64_t next = std::min(end, (pos / kPage + 1) * kPage);
    pieces.emplace_back(pos, next);
    pos = next;
  }
  size_t keep = pieces.size();
  if (torn) keep = (*rng)() % pieces.size();
  for (size_t i = 0; i < keep; i++) {
    if (policy == CrashPolicy::kRandomPages && (*rng)() % 2 == 0) continue;
    const auto& p = pieces[i];
    ApplyWrite(content, p.first, op.data.data() + (p.first - op.offset), p.second - p.first);
  }
}

}  // namespace

CrashImage BuildCrashImage(const std::vector<RecordedOp>& ops, uint64_t at, CrashPolicy policy,
                           std::mt19937_64* rng) {
  struct FileState {
    std::string synced;
    std::vector<size_t> pending;  // indexes of un-synced ops
  };
  std::map<uint64_t, FileState> files;
  std::map<std::string, uint64_t> durable;  // entries as of the last SyncDir
  std::vector<size_t> pending_dir;          // entry changes since
  at = std::min<uint64_t>(at, ops.size());
  for (size_t i = 0; i < at; i++) {
    const RecordedOp& op = ops[i];
    switch (op.kind) {
      case RecordedOp::kCreate:
        files[op.file];
        pending_dir.push_back(i);
        break;
      case RecordedOp::kRename:
      case RecordedOp::kUnlink:
        pending_dir.push_back(i);
        break;
      case RecordedOp::kWrite:
      case RecordedOp::kTruncate:
        files[op.file].pending.push_back(i);
        break;
      case RecordedOp::kSync: {
        FileState& f = files[op.file];
        for (size_t j : f.pending) ApplyOp(ops[j], &f.synced, CrashPolicy::kAllSurvive, false, rng);
        f.pending.clear();
        break;
      }
      case RecordedOp::kSyncDir:
        for (size_t j : pending_dir) {
          const RecordedOp& d = ops[j];
          if (d.kind == RecordedOp::kCreate) durable[d.name] = d.file;
          if (d.kind == RecordedOp::kRename && durable.count(d.name)) {
            durable[d.to] = durable[d.name];
            durable.erase(d.name);
          }
          if (d.kind == RecordedOp::kUnlink) durable.erase(d.name);
        }
        pending_dir.clear();
        break;
    }
  }
  // Entry changes since the last SyncDir: a prefix of them survives.
  size_t dir_keep = 0;
  if (policy == CrashPolicy::kAllSurvive) dir_keep = pending_dir.size();
  if (policy == CrashPolicy::kRandomPrefix || policy == CrashPolicy::kRandomPages)
    dir_keep = (*rng)() % (pending_dir.size() + 1);
  std::map<std::string, uint64_t> entries = durable;
  for (size_t k = 0; k < dir_keep; k++) {
    const RecordedOp& d = ops[pending_dir[k]];
    if (d.kind == RecordedOp::kCreate) entries[d.name] = d.file;
    if (d.kind == RecordedOp::kRename && entries.count(d.name)) {
      entries[d.to] = entries[d.name];
      entries.erase(d.name);
    }
    if (d.kind == RecordedOp::kUnlink) entries.erase(d.name);
  }
  CrashImage image;
  for (const auto& e : entries) {
    FileState& f = files[e.second];
    std::string content = f.synced;
    size_t keep = f.pending.size();
    bool tear_last = false;
    if (policy == CrashPolicy::kNoneSurvive) keep = 0;
    if (policy == CrashPolicy::kRandomPrefix && keep > 0) {
      keep = (*rng)() % (keep + 1);
      tear_last = keep > 0 && (*rng)() % 2 == 0;
    }
    for (size_t k = 0; k < keep; k++)
      ApplyOp(ops[f.pending[k]], &content, policy, tear_last && k + 1 == keep, rng);
    image[e.first] = std::move(content);
  }
  return image;
}

bool WriteCrashImage(const CrashImage& image, const std::string& dir) {
  for (const auto& f : image) {
    const std::string path = dir + "/" + f.first;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    size_t done = 0;
    while (done < f.second.size()) {
      ssize_t r = ::write(fd, f.second.data() + done, f.second.size() - done);
      if (r < 0) {
        if (errno == EINTR) continue;
        ::close(fd);
        return false;
      }
      done += static_cast<size_t>(r);
    }
    ::close(fd);
  }
  return true;
}

}  // namespace hashlog
