#pragma once
// A file written all-or-nothing: bytes go to a temporary file in the target's folder, which
// commit() flushes, fsyncs and renames over the target (then fsyncs the folder, so the rename
// itself survives a power cut). Until commit() succeeds the target is untouched; the destructor
// removes an uncommitted temporary. Internal to the weight-file writer. POSIX.
// A symbolic link is written through (its target is replaced, the link stays); the new file keeps
// the old one's permission bits; the temporary's name is short and fixed per target
// (".fuselstm-<hash>.tmp.<pid>.<n>"), so any name the file system takes works, and a save removes
// the temporaries that killed saves to the same target left (their process is gone).

#include <cstddef>
#include <string>

namespace fuselstm::detail {

class AtomicFile {
public:
  /// Creates the temporary file; FormatError naming `path` when that fails.
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Appends bytes [size]; FormatError naming the path on a write error (e.g. disk full).
  void write(const void* bytes, std::size_t size);
  /// Makes the new content durable and visible under `path`.
  void commit();
  /// The temporary file's path (for tests).
  const std::string& temporary_path() const { return temp_path_; }

private:
  [[noreturn]] void fail(const std::string& what);
  std::string path_;
  std::string target_;  // path_ with symbolic links followed: the file that is replaced
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace fuselstm::detail
