#include "agent/image_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/subprocess.h"
#include "agent/validation.h"
#include "core/validate.h"

namespace nest::agent {
namespace {

std::string Hex(absl::string_view digest) {
  return std::string(digest.substr(7));
}

std::atomic<uint64_t> g_upload_seq{0};

class TarUpload : public ImageUpload {
 public:
  TarUpload(std::string staging, std::string final_dir, std::string hex)
      : staging_(std::move(staging)),
        final_(std::move(final_dir)),
        hex_(std::move(hex)) {}
  ~TarUpload() override {
    if (fd_ >= 0) ::close(fd_);
    std::error_code ec;
    std::filesystem::remove_all(staging_, ec);
  }

  absl::Status Open() {
    std::error_code ec;
    std::filesystem::create_directories(staging_ + "/rootfs", ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("create ", staging_, ": ", ec.message()));
    }
    fd_ = ::open((staging_ + "/image.tar").c_str(),
                 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      return absl::InternalError(absl::StrCat(
          "open ", staging_, "/image.tar: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

  absl::Status Append(absl::string_view data) override {
    while (!data.empty()) {
      ssize_t w = ::write(fd_, data.data(), data.size());
      if (w < 0) {
        if (errno == EINTR) continue;
        return absl::ResourceExhaustedError(
            absl::StrCat("writing image upload: ", std::strerror(errno)));
      }
      data.remove_prefix(static_cast<size_t>(w));
      bytes_ += static_cast<uint64_t>(w);
    }
    return absl::OkStatus();
  }

  absl::Status Commit() override {
    ::close(fd_);
    fd_ = -1;
    // The digest names the cache entry, so a corrupted or mislabelled
    // upload must never be published under it.
    NEST_ASSIGN_OR_RETURN(ExecResult sum,
                          RunCommand({"sha256sum", staging_ + "/image.tar"}, {},
                                     absl::Minutes(5), 4096));
    if (sum.exit_code != 0 || sum.output.size() < 64) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot verify the image digest: sha256sum failed: ",
                       QuoteForMessage(sum.output)));
    }
    if (sum.output.substr(0, 64) != hex_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "digest must match the uploaded bytes: got sha256:", hex_,
          ", the data hashes to sha256:", sum.output.substr(0, 64)));
    }
    NEST_ASSIGN_OR_RETURN(
        ExecResult r, RunCommand({"tar", "-x", "-f", staging_ + "/image.tar",
                                  "-C", staging_ + "/rootfs"},
                                 {}, absl::Minutes(5), 4096));
    if (r.exit_code != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("image is not a valid tar archive (tar exit ",
                       r.exit_code, "): ", QuoteForMessage(r.output)));
    }
    ::unlink((staging_ + "/image.tar").c_str());
    if (::rename((staging_ + "/rootfs").c_str(), final_.c_str()) != 0 &&
        errno != EEXIST && errno != ENOTEMPTY) {
      return absl::InternalError(
          absl::StrCat("rename into ", final_, ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

  uint64_t bytes_received() const override { return bytes_; }

 private:
  const std::string staging_;
  const std::string final_;
  const std::string hex_;
  int fd_ = -1;
  uint64_t bytes_ = 0;
};

}  // namespace

ImageStore::ImageStore(std::string root) : root_(std::move(root)) {}

bool ImageStore::Has(absl::string_view digest) const {
  if (!ValidateDigest("digest", digest).ok()) return false;
  struct stat st;
  return ::stat(absl::StrCat(root_, "/", Hex(digest)).c_str(), &st) == 0 &&
         S_ISDIR(st.st_mode);
}

absl::StatusOr<std::string> ImageStore::RootfsPath(
    absl::string_view digest) const {
  NEST_RETURN_IF_ERROR(ValidateDigest("image_digest", digest));
  if (!Has(digest)) {
    return absl::NotFoundError(
        absl::StrCat("image ", digest, " is not in the guest; push it first"));
  }
  return absl::StrCat(root_, "/", Hex(digest));
}

absl::StatusOr<std::unique_ptr<ImageUpload>> ImageStore::BeginUpload(
    absl::string_view digest) {
  NEST_RETURN_IF_ERROR(ValidateDigest("digest", digest));
  std::string staging = absl::StrCat(root_, "/.upload-", Hex(digest), "-",
                                     ::getpid(), "-", g_upload_seq++);
  auto up = std::make_unique<TarUpload>(
      staging, absl::StrCat(root_, "/", Hex(digest)), Hex(digest));
  NEST_RETURN_IF_ERROR(up->Open());
  return up;
}

}  // namespace nest::agent
