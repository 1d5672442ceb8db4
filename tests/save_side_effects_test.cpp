// What a save does besides writing the bytes: the old file's permission bits stay, a symbolic link
// is written through, no temporary file survives an error or a killed save, and any name the file
// system accepts works (the temporary's name does not grow with it).

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "io_test_util.hpp"

namespace fuselstm::testing {
namespace {

namespace fs = std::filesystem;

TensorMap one_tensor(double value) {
  TensorMap t;
  t.emplace("w", Tensor::from_vector({2}, std::vector<double>{value, -value}, DType::f64));
  return t;
}

double first_value(const std::string& path) {
  return read_safetensors(path).tensors.at("w").to_vector<double>()[0];
}

// Every entry of the folder (the test's scratch folder holds nothing else).
std::vector<std::string> entries(const ScratchDir& dir, const std::string& sub = "") {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(fs::path(dir.file(sub)))) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(SaveSideEffects, PermissionBitsOfTheOldFileAreKept) {
  ScratchDir dir;
  const std::string path = dir.file("private.safetensors");
  write_safetensors(path, one_tensor(1));
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  write_safetensors(path, one_tensor(2));
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  write_safetensors(path, one_tensor(3));
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0640u);
  EXPECT_EQ(first_value(path), 3);
}

TEST(SaveSideEffects, SymbolicLinksAreWrittenThroughAndStayLinks) {
  ScratchDir dir;
  fs::create_directory(dir.file("real"));
  const std::string target = dir.file("real/model.safetensors");
  write_safetensors(target, one_tensor(1));
  const std::string link = dir.file("latest.safetensors");
  fs::create_symlink("real/model.safetensors", link);  // relative, as users make them
  const std::string link2 = dir.file("latest2.safetensors");
  fs::create_symlink(link, link2);  // a chain
  write_safetensors(link2, one_tensor(5));
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_TRUE(fs::is_symlink(link2));
  EXPECT_EQ(first_value(target), 5);
  EXPECT_EQ(first_value(link2), 5);
  EXPECT_EQ(entries(dir, "real"), std::vector<std::string>{"model.safetensors"});
  // A dangling link creates the file it names.
  const std::string dangling = dir.file("dangling.safetensors");
  fs::create_symlink("real/new.safetensors", dangling);
  write_safetensors(dangling, one_tensor(7));
  EXPECT_TRUE(fs::is_symlink(dangling));
  EXPECT_EQ(first_value(dir.file("real/new.safetensors")), 7);
}

TEST(SaveSideEffects, A250CharacterNameWorks) {
  ScratchDir dir;
  const std::string name = std::string(250 - 12, 'n') + ".safetensors";
  ASSERT_EQ(name.size(), 250u);
  write_safetensors(dir.file(name), one_tensor(4));
  write_safetensors(dir.file(name), one_tensor(6));  // and replacing it
  EXPECT_EQ(first_value(dir.file(name)), 6);
  EXPECT_EQ(entries(dir), std::vector<std::string>{name});
}

TEST(SaveSideEffects, AFailedSaveLeavesNoTemporaryFile) {
  ScratchDir dir;
  // rename() cannot replace a non-empty folder: the save fails after writing the temporary.
  fs::create_directories(dir.file("taken.safetensors/inside"));
  expect_error_with<FormatError>(
      [&] { write_safetensors(dir.file("taken.safetensors"), one_tensor(1)); },
      {"taken.safetensors", "rename failed"});
  EXPECT_EQ(entries(dir), std::vector<std::string>{"taken.safetensors"});
}

TEST(SaveSideEffects, TheNextSaveRemovesWhatAKilledSaveLeft) {
  ScratchDir dir;
  const std::string path = dir.file("ck.safetensors");
  write_safetensors(path, one_tensor(1));
  // A save killed mid-write: a child process that starts one and is killed with SIGKILL.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    TensorMap big;
    big.emplace("w", Tensor::zeros({16 << 20}, DType::f64));  // 128 MB: still writing when killed
    write_safetensors(path, big);
    ::_exit(0);
  }
  bool saw_temporary = false;
  for (int k = 0; k < 2000 && !saw_temporary; ++k) {
    saw_temporary = entries(dir).size() > 1;
    if (!saw_temporary) ::usleep(1000);
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(saw_temporary) << "the child never created its temporary file";
  ASSERT_GT(entries(dir).size(), 1u) << "the killed save left no temporary (finished first?)";
  EXPECT_EQ(first_value(path), 1);  // the old file is intact
  write_safetensors(path, one_tensor(2));
  EXPECT_EQ(entries(dir), std::vector<std::string>{"ck.safetensors"});
  EXPECT_EQ(first_value(path), 2);
}

}  // namespace
}  // namespace fuselstm::testing
