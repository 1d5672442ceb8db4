#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fuselstm/error.hpp"

namespace fuselstm::detail {
namespace {

std::string errno_text() { return std::strerror(errno); }

// A name no other writer in this or another process uses at the same time.
std::string temporary_name(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path target(path);
  const std::string name = "." + target.filename().string() + ".tmp." +
                           std::to_string(::getpid()) + "." + std::to_string(counter++);
  return (target.parent_path() / name).string();
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  if (std::filesystem::path(path).filename().empty()) {
    throw FormatError("fuselstm: " + path + ": not a file name");
  }
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    temp_path_ = temporary_name(path);
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) {
    throw FormatError("fuselstm: " + path + ": cannot create the temporary file " + temp_path_ +
                      ": " + errno_text());
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

void AtomicFile::fail(const std::string& what) {
  const std::string reason = errno_text();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(temp_path_.c_str());
  throw FormatError("fuselstm: " + path_ + ": " + what + ": " + reason +
                    " (the previous file, if any, is unchanged)");
}

void AtomicFile::write(const void* bytes, std::size_t size) {
  if (fd_ < 0) throw FormatError("fuselstm: " + path_ + ": write after the file was closed");
  const char* p = static_cast<const char*>(bytes);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write failed");
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw FormatError("fuselstm: " + path_ + ": commit after the file was closed");
  if (::fsync(fd_) != 0) fail("fsync failed");
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail("close failed");
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail("rename failed");
  committed_ = true;
  // The rename is in the folder's metadata: sync the folder too (best effort; some file systems
  // refuse to open a folder for this, which is no reason to report the save as failed).
  std::string folder = std::filesystem::path(path_).parent_path().string();
  if (folder.empty()) folder = ".";
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace fuselstm::detail
