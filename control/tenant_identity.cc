#include "control/tenant_identity.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/validate.h"

namespace nest::control {
namespace {

constexpr uint64_t kMaxId = 2147483647;  // INT32_MAX

// std::hash differs between standard libraries; the id must not.
uint64_t Fnv1a64(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

absl::Status ValidateTenantIdRange(const TenantIdRange& range) {
  uint64_t last = static_cast<uint64_t>(range.base) + range.size - 1;
  if (range.base < 1000 || range.size == 0 || last > kMaxId) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tenant id range must start at 1000 or above, hold at least one id "
        "and end at or below ",
        kMaxId, ", got base ", range.base, " size ", range.size));
  }
  return absl::OkStatus();
}

uint32_t PreferredTenantId(const TenantId& tenant, const TenantIdRange& range) {
  if (range.size == 0) return range.base;
  return range.base + static_cast<uint32_t>(Fnv1a64(tenant.str()) % range.size);
}

absl::StatusOr<uint32_t> AssignTenantId(const TenantId& tenant,
                                        const TenantIdMap& assigned,
                                        const TenantIdRange& range) {
  if (tenant.empty()) {
    return absl::InvalidArgumentError(
        "tenant must be set to give it a uid, got an empty name");
  }
  NEST_RETURN_IF_ERROR(ValidateTenantIdRange(range));
  if (auto it = assigned.find(tenant); it != assigned.end()) return it->second;
  std::set<uint32_t> taken;
  for (const auto& [t, id] : assigned) taken.insert(id);
  uint32_t first = PreferredTenantId(tenant, range) - range.base;
  for (uint64_t i = 0; i < range.size; ++i) {
    uint32_t id = range.base + static_cast<uint32_t>((first + i) % range.size);
    if (!taken.contains(id)) return id;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("no free tenant uid: all ", range.size, " ids from ",
                   range.base, " are taken; widen the tenant id range"));
}

vmm::DacLabel TenantDacLabel(uint32_t id) { return vmm::DacLabel{id, id}; }

absl::StatusOr<uint32_t> TenantIdentities::IdFor(const TenantId& tenant) {
  absl::MutexLock l(&mu_);
  NEST_RETURN_IF_ERROR(LoadLocked());
  if (auto it = ids_.find(tenant); it != ids_.end()) return it->second;
  NEST_RETURN_IF_ERROR(ValidateName("tenant", tenant.str()));
  NEST_ASSIGN_OR_RETURN(uint32_t id, AssignTenantId(tenant, ids_, range_));
  ids_[tenant] = id;
  absl::Status saved = SaveLocked();
  if (!saved.ok()) {
    // Unsaved, the id could go to another tenant after a restart.
    ids_.erase(tenant);
    return saved;
  }
  return id;
}

absl::StatusOr<vmm::DacLabel> TenantIdentities::LabelFor(
    const TenantId& tenant) {
  NEST_ASSIGN_OR_RETURN(uint32_t id, IdFor(tenant));
  return TenantDacLabel(id);
}

bool TenantIdentities::IsTenantId(uint32_t id) {
  if (id >= range_.base && id - range_.base < range_.size) return true;
  absl::MutexLock l(&mu_);
  for (const auto& [t, given] : ids_) {
    if (given == id) return true;
  }
  return false;
}

absl::Status TenantIdentities::LoadLocked() {
  if (loaded_) return absl::OkStatus();
  NEST_RETURN_IF_ERROR(ValidateTenantIdRange(range_));
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec) && !ec) {
    loaded_ = true;  // no tenant has an id yet
    return absl::OkStatus();
  }
  std::ifstream in(path_);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read tenant ids from ", path_));
  }
  TenantIdMap ids;
  std::set<uint32_t> seen;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    uint32_t id = 0;
    auto bad = [&](absl::string_view why) {
      return absl::DataLossError(
          absl::StrCat(path_, " line ", n, ": expected \"<tenant> <id>\" with ",
                       why, ", got \"", line, "\""));
    };
    if (parts.size() != 2 || !ValidateName("tenant", parts[0]).ok()) {
      return bad("a valid tenant name");
    }
    // Ids outside today's range were given under an earlier range: they
    // stay with their tenants.
    if (!absl::SimpleAtoi(parts[1], &id) || id < 1000 || id > kMaxId) {
      return bad("an id between 1000 and 2147483647");
    }
    if (!seen.insert(id).second || ids.contains(TenantId(parts[0]))) {
      return bad("each tenant and each id once");
    }
    ids[TenantId(parts[0])] = id;
  }
  ids_ = std::move(ids);
  loaded_ = true;
  return absl::OkStatus();
}

absl::Status TenantIdentities::SaveLocked() {
  std::ostringstream out;
  for (const auto& [tenant, id] : ids_)
    out << tenant.str() << ' ' << id << '\n';
  std::string data = out.str();
  std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot write tenant ids to ", tmp,
                                            ": ", strerror(errno)));
  }
  bool ok = ::write(fd, data.data(), data.size()) ==
                static_cast<ssize_t>(data.size()) &&
            ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot write tenant ids to ",
                                            path_, ": ", strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace nest::control
