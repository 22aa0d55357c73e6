#include "catalog/catalog.h"

#include <algorithm>
#include <bit>
#include <functional>

#include "catalog/value_parsing.h"

namespace shelfwatch::catalog {

namespace {

uint64_t HashId(std::string_view id) { return std::hash<std::string_view>{}(id); }

// Heap bytes behind a std::string: nothing while the text fits the small-string buffer.
size_t StringHeapBytes(const std::string& s) {
  return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}

}  // namespace

std::string RowError::ToString() const {
  return file + ":" + std::to_string(line) + ": " + reason + ": " + message;
}

std::optional<uint32_t> Catalog::Find(std::string_view id) const {
  if (id_slots_.empty()) return std::nullopt;
  uint64_t hash = HashId(id);
  uint64_t tag = hash >> 32;
  size_t mask = id_slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    uint64_t slot = id_slots_[i];
    auto doc = static_cast<uint32_t>(slot);
    if (doc == kEmptyDoc) return std::nullopt;
    if ((slot >> 32) == tag && products_[doc].id == id) return doc;
  }
}

Status Catalog::Add(Product product) {
  if (product.id.empty()) return InvalidArgument("product id is empty");
  if (products_.size() >= kEmptyDoc - 1) {
    return Status(ErrorCode::kResourceExhausted, "catalog '" + name_ + "' is full (2^32 - 2 products)");
  }
  if (auto doc = Find(product.id)) {
    return Status(ErrorCode::kConflict, "product id " + QuoteForMessage(product.id) +
                                            " is already in catalog '" + name_ + "' (doc " +
                                            std::to_string(*doc) + ")");
  }
  if ((products_.size() + 1) * 2 > id_slots_.size()) {
    RebuildIdIndex(std::max<size_t>(16, id_slots_.size() * 2));
  }
  auto doc = static_cast<uint32_t>(products_.size());
  products_.push_back(std::move(product));
  InsertSlot(doc);
  return Status::Ok();
}

void Catalog::InsertSlot(uint32_t doc) {
  uint64_t hash = HashId(products_[doc].id);
  size_t mask = id_slots_.size() - 1;
  size_t i = hash & mask;
  while (static_cast<uint32_t>(id_slots_[i]) != kEmptyDoc) i = (i + 1) & mask;
  id_slots_[i] = (hash >> 32) << 32 | doc;
}

void Catalog::RebuildIdIndex(size_t slots) {
  id_slots_.assign(slots, kEmptyDoc);
  for (uint32_t doc = 0; doc < products_.size(); ++doc) InsertSlot(doc);
}

void Catalog::Reserve(size_t count) {
  products_.reserve(count);
  if (count * 2 > id_slots_.size()) RebuildIdIndex(std::bit_ceil(std::max<size_t>(16, count * 2)));
}

void Catalog::ShrinkToFit() {
  // Moving every product costs a pass over the catalog; worth it only for real slack.
  if (products_.capacity() - products_.size() > products_.size() / 4) products_.shrink_to_fit();
}

size_t Catalog::MemoryBytes() const {
  size_t bytes = products_.capacity() * sizeof(Product) + id_slots_.capacity() * sizeof(uint64_t);
  for (const Product& p : products_) {
    bytes += StringHeapBytes(p.id) + StringHeapBytes(p.title) + StringHeapBytes(p.description) +
             StringHeapBytes(p.brand);
    bytes += p.category_path.capacity() * sizeof(std::string);
    for (const std::string& part : p.category_path) bytes += StringHeapBytes(part);
    bytes += p.attributes.capacity() * sizeof(p.attributes[0]);
    for (const auto& [name, value] : p.attributes) bytes += StringHeapBytes(name) + StringHeapBytes(value);
  }
  return bytes;
}

}  // namespace shelfwatch::catalog
