// A streaming tar reader (ustar, GNU long names, PAX extended headers) and a
// small deterministic tar writer. The reader only decodes: deciding which
// entries are acceptable is the unpacker's job (layer_unpack.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "images/byte_source.h"

namespace nest::images {

struct TarEntry {
  enum Type : char {
    kFile = '0',
    kHardLink = '1',
    kSymlink = '2',
    kCharDevice = '3',
    kBlockDevice = '4',
    kDirectory = '5',
    kFifo = '6',
  };
  std::string path;  // as stored (PAX/GNU long name applied), not cleaned
  std::string link;  // symlink or hard link target
  char type = kFile;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime = 0;
  uint64_t size = 0;         // bytes of data that follow
  uint64_t data_offset = 0;  // offset of the data in the (decoded) stream
};

// Thread-compatible. Borrows `src`.
class TarReader {
 public:
  explicit TarReader(ByteSource& src);

  // Advances to the next entry, skipping unread data of the current one.
  // Returns false at the end of the archive.
  [[nodiscard]] absl::StatusOr<bool> Next(TarEntry* entry);

  // Reads the current entry's data; returns 0 when it is exhausted.
  [[nodiscard]] absl::StatusOr<size_t> ReadData(char* buf, size_t n);

 private:
  absl::StatusOr<size_t> Fill(char* buf, size_t n);  // exact or error
  absl::Status Skip(uint64_t n);
  absl::StatusOr<std::string> ReadSmall(uint64_t size, const char* what);

  ByteSource& src_;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t len_ = 0;
  bool eof_ = false;
  uint64_t offset_ = 0;     // bytes consumed from src_
  uint64_t data_left_ = 0;  // of the current entry
  uint64_t pad_left_ = 0;   // padding after the current entry's data
};

// Writes a tar stream into a string: deterministic (fixed owner, mode as
// given, mtime as given). Used by tests, benchmarks and the example builder.
class TarWriter {
 public:
  void AddDirectory(const std::string& path, uint32_t mode = 0755);
  void AddFile(const std::string& path, const std::string& data,
               uint32_t mode = 0644);
  void AddSymlink(const std::string& path, const std::string& target);
  void AddHardLink(const std::string& path, const std::string& target);
  // Any entry, for crafting hostile archives in tests.
  void AddRaw(const std::string& path, char type, const std::string& link,
              const std::string& data, uint32_t mode = 0644);
  // Appends the two zero blocks and returns the archive.
  std::string Finish();

  // Every entry is given this mtime (default 0, for reproducible output).
  int64_t mtime = 0;

 private:
  std::string out_;
};

}  // namespace nest::images
