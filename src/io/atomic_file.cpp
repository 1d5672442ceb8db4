#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "fuselstm/error.hpp"

namespace fuselstm::detail {
namespace {

std::string errno_text() { return std::strerror(errno); }

// FNV-1a: the same name for the same target in every build, so a later save finds what an
// earlier, killed one left.
std::string name_hash(const std::string& name) {
  std::uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

// ".fuselstm-<hash of the target's name>.tmp.": short whatever the target's name (a 250-byte name
// still fits the file system's 255), and specific to the target.
std::string temporary_prefix(const std::filesystem::path& target) {
  return ".fuselstm-" + name_hash(target.filename().string()) + ".tmp.";
}

// A name no other writer in this or another process uses at the same time.
std::string temporary_name(const std::filesystem::path& target) {
  static std::atomic<unsigned> counter{0};
  const std::string name = temporary_prefix(target) + std::to_string(::getpid()) + "." +
                           std::to_string(counter++);
  return (target.parent_path() / name).string();
}

// Removes the temporary files of earlier saves to `target` whose process no longer exists (a save
// killed before it could clean up). Best effort: a folder that cannot be listed is left alone.
void remove_stale_temporaries(const std::filesystem::path& target) {
  const std::string prefix = temporary_prefix(target);
  const std::filesystem::path folder =
      target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
  std::error_code ec;
  std::filesystem::directory_iterator it(folder, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      ::unlink(it->path().c_str());
    }
  }
}

// A symbolic link is followed to the file it names (up to 40 links, as the kernel does), so a
// save replaces that file and the link stays a link.
std::filesystem::path resolve_links(const std::string& path) {
  std::filesystem::path target(path);
  for (int depth = 0; depth < 40; ++depth) {
    std::error_code ec;
    if (!std::filesystem::is_symlink(std::filesystem::symlink_status(target, ec)) || ec) {
      return target;
    }
    const std::filesystem::path next = std::filesystem::read_symlink(target, ec);
    if (ec) throw FormatError("fuselstm: " + path + ": cannot read the symbolic link: " + ec.message());
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
  throw FormatError("fuselstm: " + path + ": too many levels of symbolic links");
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  if (std::filesystem::path(path).filename().empty()) {
    throw FormatError("fuselstm: " + path + ": not a file name");
  }
  const std::filesystem::path target = resolve_links(path);
  target_ = target.string();
  remove_stale_temporaries(target);
  // The new file keeps the old one's permission bits (a 0600 checkpoint stays 0600); a new file
  // gets 0666 less the umask, as any other program's.
  struct stat old {};
  const bool replacing = ::stat(target_.c_str(), &old) == 0 && S_ISREG(old.st_mode);
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    temp_path_ = temporary_name(target);
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                 replacing ? 0600 : 0666);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) {
    throw FormatError("fuselstm: " + path + ": cannot create the temporary file " + temp_path_ +
                      ": " + errno_text());
  }
  if (replacing && ::fchmod(fd_, old.st_mode & 07777) != 0) fail("cannot set the permissions");
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
  if (::rename(temp_path_.c_str(), target_.c_str()) != 0) fail("rename failed");
  committed_ = true;
  // The rename is in the folder's metadata: sync the folder too (best effort; some file systems
  // refuse to open a folder for this, which is no reason to report the save as failed).
  std::string folder = std::filesystem::path(target_).parent_path().string();
  if (folder.empty()) folder = ".";
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace fuselstm::detail
