#include "core/sha256.h"

#include <openssl/evp.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "core/validate.h"

namespace nest {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  // Allocation failure of a tiny context is not recoverable in practice.
  if (impl_->ctx == nullptr ||
      EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
    abort();
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::Update(const void* data, size_t n) {
  if (n > 0) EVP_DigestUpdate(impl_->ctx, data, n);
}

std::string Sha256::FinishHex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

std::string Sha256::FinishDigest() { return "sha256:" + FinishHex(); }

std::string Sha256Digest(absl::string_view data) {
  Sha256 h;
  h.Update(data.data(), data.size());
  return h.FinishDigest();
}

std::string Sha256Hex(absl::string_view data) {
  Sha256 h;
  h.Update(data.data(), data.size());
  return h.FinishHex();
}

absl::StatusOr<std::string> Sha256FileHex(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  Sha256 h;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) h.Update(buf, n);
  bool err = std::ferror(f);
  std::fclose(f);
  if (err) return absl::UnavailableError(absl::StrCat("cannot read ", path));
  return h.FinishHex();
}

absl::Status ValidateDigest(absl::string_view field, absl::string_view digest) {
  constexpr absl::string_view kPrefix = "sha256:";
  bool ok = digest.size() == kPrefix.size() + 64 &&
            digest.substr(0, kPrefix.size()) == kPrefix;
  if (ok) {
    for (char c : digest.substr(kPrefix.size())) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) ok = false;
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be sha256:<64 lowercase hex>, got ",
                     QuoteForMessage(digest)));
  }
  return absl::OkStatus();
}

std::string DigestHex(absl::string_view digest) {
  auto pos = digest.find(':');
  return std::string(pos == absl::string_view::npos ? digest
                                                    : digest.substr(pos + 1));
}

}  // namespace nest
