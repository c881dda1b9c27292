// IP allocations in the store: the rows themselves, their transaction with
// the object they belong to, and an IPAM that restarts from them (issue 9:
// "restart from the store") without ever handing an address out twice.
#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "doctest/doctest.h"
#include "net/ipam.h"
#include "store/store.h"
#include "tests/store/store_test_util.h"

namespace nest::store {
namespace {

using testing::MakeGroup;
using testing::MakeHost;
using testing::MakeVm;
using testing::MustOpen;
using testing::TempDir;

// The control layer's conversion, written out here because store/ may not
// depend on net/.
std::vector<IpAllocationRow> ToRows(const net::Ipam& ipam) {
  std::vector<IpAllocationRow> rows;
  for (const net::Allocation& a : ipam.Allocations()) {
    rows.push_back({std::string(net::AllocationKindName(a.kind)), a.owner,
                    a.prefix.ToString()});
  }
  // In the store's order, so the two compare equal.
  std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) {
    return std::tie(x.kind, x.owner) < std::tie(y.kind, y.owner);
  });
  return rows;
}

net::Ipam FromRows(const net::IpamConfig& config,
                   const std::vector<IpAllocationRow>& rows) {
  std::vector<net::Allocation> allocations;
  for (const IpAllocationRow& r : rows) {
    allocations.push_back({net::ParseAllocationKind("kind", r.kind).value(),
                           r.owner,
                           net::ParseIpv4Prefix("prefix", r.prefix).value()});
  }
  absl::StatusOr<net::Ipam> ipam = net::Ipam::Restore(config, allocations);
  REQUIRE_MESSAGE(ipam.ok(), ipam.status().ToString());
  return *ipam;
}

std::vector<IpAllocationRow> Load(Store& store) {
  std::vector<IpAllocationRow> rows;
  absl::Status st = store.Read([&](ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(rows, tx.ListIpAllocations());
    return absl::OkStatus();
  });
  REQUIRE_MESSAGE(st.ok(), st.ToString());
  return rows;
}

// A /24 pool of /26 networks with /28 container blocks: 4 networks, and 2
// VMs fill a network (the first /28 holds the reserved and VM addresses,
// the last one the broadcast address).
net::IpamConfig Tiny() {
  return net::IpamConfig{net::ParseIpv4Prefix("p", "10.9.0.0/24").value(), 26,
                         28};
}

void SeedTenant(Store& store) {
  absl::Status st = store.Write([](WriteTx& tx) -> absl::Status {
    NEST_RETURN_IF_ERROR(
        tx.CreateTenant(Tenant{TenantId("acme"), {}, {}}).status());
    NEST_RETURN_IF_ERROR(tx.CreateHost(MakeHost("h1")).status());
    return tx.CreateGroup(MakeGroup("acme", "web")).status();
  });
  REQUIRE_MESSAGE(st.ok(), st.ToString());
}

// Creates VM `id` and saves its lease in one transaction, as the controller
// will.
absl::Status CreateVmWithLease(Store& store, net::Ipam& ipam,
                               const std::string& id) {
  net::Ipam next = ipam;  // committed only with the transaction
  absl::Status st = store.Write([&](WriteTx& tx) -> absl::Status {
    NEST_RETURN_IF_ERROR(next.AllocateNetwork("acme").status());
    NEST_RETURN_IF_ERROR(next.AllocateVm("acme", VmId(id)).status());
    NEST_RETURN_IF_ERROR(tx.CreateVm(MakeVm(id, "acme", "web", "h1")).status());
    return tx.ReplaceIpAllocations(ToRows(next));
  });
  if (st.ok()) ipam = next;
  return st;
}

TEST_CASE("rows are saved, listed in order, deleted, and survive a reopen") {
  TempDir dir;
  FakeClock clock;
  {
    auto store = MustOpen(dir.File("nest.db"), clock);
    absl::Status st = store->Write([](WriteTx& tx) -> absl::Status {
      NEST_RETURN_IF_ERROR(
          tx.PutIpAllocation({"vm_address", "vm-2", "10.9.0.3/32"}));
      NEST_RETURN_IF_ERROR(
          tx.PutIpAllocation({"network", "acme", "10.9.0.0/26"}));
      NEST_RETURN_IF_ERROR(
          tx.PutIpAllocation({"vm_address", "vm-1", "10.9.0.2/32"}));
      // The same row again is not a change.
      return tx.PutIpAllocation({"network", "acme", "10.9.0.0/26"});
    });
    REQUIRE_MESSAGE(st.ok(), st.ToString());
  }
  auto store = MustOpen(dir.File("nest.db"), clock);
  CHECK(Load(*store) ==
        std::vector<IpAllocationRow>{{"network", "acme", "10.9.0.0/26"},
                                     {"vm_address", "vm-1", "10.9.0.2/32"},
                                     {"vm_address", "vm-2", "10.9.0.3/32"}});
  REQUIRE(store
              ->Write([](WriteTx& tx) {
                NEST_RETURN_IF_ERROR(
                    tx.DeleteIpAllocation("vm_address", "vm-1"));
                // Deleting what is not there is harmless.
                return tx.DeleteIpAllocation("vm_address", "vm-1");
              })
              .ok());
  CHECK(Load(*store).size() == 2);
}

TEST_CASE("a prefix is never given to two owners, nor an owner two prefixes") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  REQUIRE(store
              ->Write([](WriteTx& tx) {
                return tx.PutIpAllocation({"network", "acme", "10.9.0.0/26"});
              })
              .ok());
  absl::Status taken = store->Write([](WriteTx& tx) {
    return tx.PutIpAllocation({"network", "other", "10.9.0.0/26"});
  });
  CHECK(absl::IsAlreadyExists(taken));
  CHECK(absl::StrContains(taken.message(), "\"acme\""));
  CHECK(absl::StrContains(taken.message(), "\"other\""));
  absl::Status moved = store->Write([](WriteTx& tx) {
    return tx.PutIpAllocation({"network", "acme", "10.9.0.64/26"});
  });
  CHECK(absl::IsAlreadyExists(moved));
  CHECK(absl::StrContains(moved.message(), "10.9.0.0/26"));

  absl::Status empty = store->Write([](WriteTx& tx) {
    return tx.PutIpAllocation({"network", "", "x"});
  });
  CHECK(absl::IsInvalidArgument(empty));
  CHECK(absl::StrContains(empty.message(), "owner"));
  absl::Status twice = store->Write([](WriteTx& tx) {
    return tx.ReplaceIpAllocations(
        {{"network", "b", "10.9.0.64/26"}, {"network", "b", "10.9.0.128/26"}});
  });
  CHECK(absl::IsInvalidArgument(twice));
  CHECK(Load(*store) ==
        std::vector<IpAllocationRow>{{"network", "acme", "10.9.0.0/26"}});
}

TEST_CASE("replace applies the difference, even a prefix changing hands") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  std::vector<IpAllocationRow> first = {{"network", "a", "10.9.0.0/26"},
                                        {"network", "b", "10.9.0.64/26"}};
  REQUIRE(
      store->Write([&](WriteTx& tx) { return tx.ReplaceIpAllocations(first); })
          .ok());
  std::vector<IpAllocationRow> second = {{"network", "b", "10.9.0.64/26"},
                                         {"network", "c", "10.9.0.0/26"}};
  absl::Status st = store->Write(
      [&](WriteTx& tx) { return tx.ReplaceIpAllocations(second); });
  REQUIRE_MESSAGE(st.ok(), st.ToString());
  CHECK(Load(*store) == second);
  REQUIRE(store->Write([](WriteTx& tx) { return tx.ReplaceIpAllocations({}); })
              .ok());
  CHECK(Load(*store).empty());
}

TEST_CASE("an allocation commits with its VM or not at all") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  SeedTenant(*store);
  net::Ipam ipam = net::Ipam::Create(Tiny()).value();
  REQUIRE(CreateVmWithLease(*store, ipam, "vm-1").ok());
  // vm-1 exists already, so this transaction fails after allocating: the
  // rows it wrote must go with it.
  net::Ipam before = ipam;
  absl::Status dup = store->Write([&](WriteTx& tx) -> absl::Status {
    net::Ipam next = ipam;
    NEST_RETURN_IF_ERROR(next.AllocateVm("acme", VmId("vm-9")).status());
    NEST_RETURN_IF_ERROR(tx.ReplaceIpAllocations(ToRows(next)));
    return tx.CreateVm(MakeVm("vm-1", "acme", "web", "h1")).status();
  });
  CHECK(absl::IsAlreadyExists(dup));
  CHECK(Load(*store) == ToRows(before));
  CHECK(Load(*store).size() == 3);  // the network, vm-1's address and block
}

TEST_CASE("after a restart no address is reused and released ones return") {
  TempDir dir;
  FakeClock clock;
  std::set<std::string> handed_out;
  net::VmLease released;
  {
    auto store = MustOpen(dir.File("nest.db"), clock);
    SeedTenant(*store);
    net::Ipam ipam = net::Ipam::Create(Tiny()).value();
    for (const char* vm : {"vm-1", "vm-2"}) {
      REQUIRE(CreateVmWithLease(*store, ipam, vm).ok());
    }
    for (const IpAllocationRow& r : Load(*store)) handed_out.insert(r.prefix);
    released = ipam.FindVm(VmId("vm-1")).value();
    net::Ipam next = ipam;
    next.ReleaseVm(VmId("vm-1"));
    REQUIRE(store
                ->Write([&](WriteTx& tx) -> absl::Status {
                  NEST_RETURN_IF_ERROR(tx.DeleteVm(VmId("vm-1"), 0));
                  return tx.ReplaceIpAllocations(ToRows(next));
                })
                .ok());
  }  // the store closes: nestd "restarts"

  auto store = MustOpen(dir.File("nest.db"), clock);
  net::Ipam ipam = FromRows(Tiny(), Load(*store));
  // vm-2 still holds its lease; vm-1's came back.
  net::VmLease kept = ipam.FindVm(VmId("vm-2")).value();
  CHECK(handed_out.count(net::Ipv4Prefix::Host(kept.address).ToString()) == 1);
  CHECK(!ipam.FindVm(VmId("vm-1")).has_value());

  REQUIRE(CreateVmWithLease(*store, ipam, "vm-3").ok());
  net::VmLease reused = ipam.FindVm(VmId("vm-3")).value();
  CHECK(reused.address == released.address);
  CHECK(reused.container_block == released.container_block);
  CHECK(reused.address != kept.address);
  CHECK(!reused.container_block.Overlaps(kept.container_block));

  // The network is full: the next VM is refused, not given a used range,
  // the refusal names what ran out, and nothing of it is stored.
  absl::Status full = CreateVmWithLease(*store, ipam, "vm-4");
  CHECK(absl::IsResourceExhausted(full));
  CHECK(absl::StrContains(full.message(), "10.9.0.0/26"));
  CHECK(absl::StrContains(full.message(), "vm-4"));

  // Every row in the store is a distinct, non-overlapping range per kind.
  std::vector<IpAllocationRow> rows = Load(*store);
  CHECK(rows.size() == 1 + 2 * 2);
  std::vector<net::Ipv4Prefix> vm_ranges;
  for (const IpAllocationRow& r : rows) {
    if (r.kind == "network") continue;
    vm_ranges.push_back(net::ParseIpv4Prefix("prefix", r.prefix).value());
  }
  for (size_t i = 0; i < vm_ranges.size(); ++i) {
    for (size_t j = i + 1; j < vm_ranges.size(); ++j) {
      CHECK_MESSAGE(!vm_ranges[i].Overlaps(vm_ranges[j]),
                    vm_ranges[i].ToString(), " ", vm_ranges[j].ToString());
    }
  }
}

TEST_CASE("running out of networks names the pool, after a restart too") {
  TempDir dir;
  FakeClock clock;
  {
    auto store = MustOpen(dir.File("nest.db"), clock);
    net::Ipam ipam = net::Ipam::Create(Tiny()).value();
    for (const char* n : {"a", "b", "c", "d"}) {
      REQUIRE(ipam.AllocateNetwork(n).ok());
    }
    REQUIRE(store
                ->Write([&](WriteTx& tx) {
                  return tx.ReplaceIpAllocations(ToRows(ipam));
                })
                .ok());
  }
  auto store = MustOpen(dir.File("nest.db"), clock);
  net::Ipam ipam = FromRows(Tiny(), Load(*store));
  absl::StatusOr<net::Ipv4Prefix> e = ipam.AllocateNetwork("e");
  CHECK(absl::IsResourceExhausted(e.status()));
  CHECK(absl::StrContains(e.status().message(), "net.pool 10.9.0.0/24"));
  CHECK(absl::StrContains(e.status().message(), "\"e\""));
  REQUIRE(ipam.ReleaseNetwork("c").ok());
  CHECK(ipam.AllocateNetwork("e").value().ToString() == "10.9.0.128/26");
}

}  // namespace
}  // namespace nest::store
