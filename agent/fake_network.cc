#include "absl/strings/str_cat.h"
#include "agent/network.h"
#include "agent/validation.h"

namespace nest::agent {

absl::Status FakeNetwork::Configure(const GuestNetwork& network) {
  NEST_RETURN_IF_ERROR(ValidateGuestNetwork(network));
  absl::MutexLock lock(&mu_);
  network_ = network;
  return absl::OkStatus();
}

absl::StatusOr<NetworkAttachment> FakeNetwork::Attach(
    const std::string& id, const std::string& address) {
  absl::MutexLock lock(&mu_);
  if (!next_attach_.ok()) {
    absl::Status s = next_attach_;
    next_attach_ = absl::OkStatus();
    return s;
  }
  if (!network_.has_value()) {
    return NetworkNotConfigured(id, address);
  }
  for (const auto& [other, a] : attached_) {
    if (other == id || a == address) {
      return absl::AlreadyExistsError(
          absl::StrCat("address ", a, " is held by container ", other));
    }
  }
  attached_[id] = address;
  return NetworkAttachment{"/run/netns/fake-" + id, "/fake/hosts"};
}

absl::Status FakeNetwork::Detach(const std::string& id) {
  absl::MutexLock lock(&mu_);
  attached_.erase(id);
  return absl::OkStatus();
}

std::map<std::string, std::string> FakeNetwork::attached() const {
  absl::MutexLock lock(&mu_);
  return attached_;
}

void FakeNetwork::FailNextAttach(absl::Status s) {
  absl::MutexLock lock(&mu_);
  next_attach_ = std::move(s);
}

}  // namespace nest::agent
