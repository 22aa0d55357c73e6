#include "models/tensor.h"

namespace shelfwatch::models {

std::string_view DataTypeName(DataType type) { return type == DataType::kFp32 ? "FP32" : "BYTES"; }

bool ParseDataType(std::string_view name, DataType* type) {
  if (name == "FP32") {
    *type = DataType::kFp32;
    return true;
  }
  if (name == "BYTES") {
    *type = DataType::kBytes;
    return true;
  }
  return false;
}

int64_t ShapeElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

int64_t Tensor::ElementCount() const { return ShapeElements(shape); }

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace shelfwatch::models
