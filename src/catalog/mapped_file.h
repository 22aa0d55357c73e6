// MappedFile: a whole file's bytes as one read-only view, for one-pass parsers.
//
// Regular files are memory-mapped (MADV_SEQUENTIAL: the kernel reads ahead and may drop
// pages behind the reader, so a file larger than memory still streams). Pipes and other
// non-regular files are read into memory instead.
// Thread-safety: the view is immutable; safe for concurrent reads. Move-only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace shelfwatch::catalog {

class MappedFile {
 public:
  // kNotFound when the path does not exist, kIoError when it cannot be read (permissions,
  // a directory, an I/O error).
  static Result<MappedFile> Open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::string_view text() const { return text_; }

 private:
  MappedFile() = default;
  void Release();

  void* map_ = nullptr;  // mmap'ed region, or nullptr
  size_t map_size_ = 0;
  std::string owned_;    // contents when not mapped
  std::string_view text_;
};

}  // namespace shelfwatch::catalog
