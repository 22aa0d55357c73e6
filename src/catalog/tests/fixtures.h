// Test fixtures for the catalog module: a temporary directory for fixture files, and the
// load-and-check step the loader tests share.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>

#include "catalog/catalog.h"

namespace shelfwatch::catalog {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "catalog_test_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `contents` byte for byte to `name` inside the directory; returns its path.
  std::string Write(const std::string& name, std::string_view contents) const {
    std::string file = path_ + "/" + name;
    std::ofstream out(file, std::ios::binary);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    if (!out) ADD_FAILURE() << "could not write " << file;
    return file;
  }
  const std::string& path() const { return path_; }

  // A named pipe that a thread fills with `contents` once a reader opens it (as with
  // `shelfwatch ... <(zcat products.csv.gz)`). Join the thread after reading.
  std::string Pipe(const std::string& name, std::string contents, std::thread* writer) const {
    std::string file = path_ + "/" + name;
    if (::mkfifo(file.c_str(), 0600) != 0) ADD_FAILURE() << "mkfifo failed for " << file;
    *writer = std::thread([file, contents = std::move(contents)] {
      std::ofstream out(file, std::ios::binary);
      out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    });
    return file;
  }

 private:
  std::string path_;
};

// Options for tests: no progress bar.
inline LoadOptions QuietLoadOptions() {
  LoadOptions options;
  options.progress = false;
  return options;
}

// Loads `path`, expecting success and a report whose counts add up.
inline Catalog MustLoad(const std::string& path, const LoadOptions& options, LoadReport* report) {
  auto loaded = LoadCatalog("test", path, options, report);
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  if (!loaded.ok()) return Catalog();
  EXPECT_EQ(report->rows_loaded + report->rows_rejected, report->rows_read);
  EXPECT_EQ(loaded->size(), report->rows_loaded);
  return std::move(loaded).value();
}

}  // namespace shelfwatch::catalog
