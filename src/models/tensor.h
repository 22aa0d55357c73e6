// Tensors as the model-serving API passes them: a name, a datatype, a shape and row-major
// data (FP32 values, or BYTES elements for text inputs such as an embedding model's query).
//
// The first dimension is the batch dimension whenever a model has max_batch_size > 0 (Triton's
// convention): a request of shape [n, d...] holds n rows that the dynamic batcher may
// concatenate with other requests' rows and split again.
// Thread-safety: plain values. Cost: O(elements) to copy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shelfwatch::models {

enum class DataType { kFp32, kBytes };

// "FP32" | "BYTES": the Open Inference Protocol v2 datatype names.
std::string_view DataTypeName(DataType type);
// Parses "FP32" / "BYTES"; false for any other name.
bool ParseDataType(std::string_view name, DataType* type);

struct Tensor {
  std::string name;
  DataType dtype = DataType::kFp32;
  std::vector<int64_t> shape;
  std::vector<float> fp32;          // dtype kFp32
  std::vector<std::string> bytes;   // dtype kBytes

  // Product of the shape (1 for a scalar); -1 when a dimension is negative.
  int64_t ElementCount() const;
  // Number of stored elements (fp32.size() or bytes.size()).
  size_t StoredCount() const { return dtype == DataType::kFp32 ? fp32.size() : bytes.size(); }
};

// Product of dims; -1 if any is negative.
int64_t ShapeElements(const std::vector<int64_t>& shape);
// "[4, 8]"
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace shelfwatch::models
