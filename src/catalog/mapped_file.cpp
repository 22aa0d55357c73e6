#include "catalog/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shelfwatch::catalog {

namespace {

Status OpenError(const std::string& path, int err) {
  std::string msg = path + ": " + std::strerror(err);
  if (err == ENOENT || err == ENOTDIR) return NotFound(std::move(msg));
  return IoError(std::move(msg));
}

// Closes the descriptor on every return path.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<MappedFile> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return OpenError(path, errno);
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return OpenError(path, errno);
  if (S_ISDIR(st.st_mode)) return IoError(path + ": is a directory, not a file");

  MappedFile file;
  if (S_ISREG(st.st_mode)) {
    size_t size = static_cast<size_t>(st.st_size);
    if (size == 0) return file;  // mmap refuses empty mappings; an empty view is the answer
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      ::madvise(p, size, MADV_SEQUENTIAL);
      file.map_ = p;
      file.map_size_ = size;
      file.text_ = std::string_view(static_cast<const char*>(p), size);
      return file;
    }
    // Some file systems cannot map; fall through and read instead.
  }
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return OpenError(path, errno);
    }
    file.owned_.append(buf, static_cast<size_t>(n));
  }
  file.text_ = file.owned_;
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this == &other) return *this;
  Release();
  map_ = other.map_;
  map_size_ = other.map_size_;
  bool owned = other.map_ == nullptr && !other.text_.empty();
  owned_ = std::move(other.owned_);
  text_ = owned ? std::string_view(owned_) : other.text_;
  other.map_ = nullptr;
  other.map_size_ = 0;
  other.text_ = {};
  return *this;
}

MappedFile::~MappedFile() { Release(); }

void MappedFile::Release() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
  map_ = nullptr;
  map_size_ = 0;
  owned_.clear();
  text_ = {};
}

}  // namespace shelfwatch::catalog
