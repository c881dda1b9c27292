// Test decorators of the control plane's ports: each forwards every call to
// a real implementation (a FakeAgent, a SimDriver), so a test overrides only
// the calls it wants to observe or break.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/agent_api.h"
#include "vmm/driver.h"

namespace nest::control {

class ForwardingAgent : public agent::AgentApi {
 public:
  explicit ForwardingAgent(std::shared_ptr<agent::AgentApi> inner)
      : inner_(std::move(inner)) {}

  absl::StatusOr<agent::AgentHello> Hello() override { return inner_->Hello(); }
  absl::StatusOr<agent::PutImageResult> PutImage(
      absl::string_view digest, absl::string_view tar) override {
    return inner_->PutImage(digest, tar);
  }
  absl::StatusOr<agent::ContainerInfo> CreateContainer(
      const agent::ContainerSpec& spec) override {
    return inner_->CreateContainer(spec);
  }
  absl::StatusOr<agent::ContainerInfo> StartContainer(
      absl::string_view id) override {
    return inner_->StartContainer(id);
  }
  absl::Status KillContainer(absl::string_view id, int signal) override {
    return inner_->KillContainer(id, signal);
  }
  absl::Status DeleteContainer(absl::string_view id) override {
    return inner_->DeleteContainer(id);
  }
  absl::StatusOr<agent::ContainerInfo> ContainerStatus(
      absl::string_view id) override {
    return inner_->ContainerStatus(id);
  }
  absl::StatusOr<std::vector<agent::ContainerInfo>> ListContainers() override {
    return inner_->ListContainers();
  }
  absl::StatusOr<agent::ExecResult> Exec(
      absl::string_view id, const std::vector<std::string>& args,
      const agent::ExecOptions& options) override {
    return inner_->Exec(id, args, options);
  }
  absl::Status Logs(absl::string_view id, bool follow, uint64_t tail_bytes,
                    const agent::LogSink& sink, absl::Time deadline) override {
    return inner_->Logs(id, follow, tail_bytes, sink, deadline);
  }
  absl::StatusOr<agent::StatsReport> Stats(absl::string_view id) override {
    return inner_->Stats(id);
  }
  absl::Status ConfigureNetwork(const agent::GuestNetwork& network) override {
    return inner_->ConfigureNetwork(network);
  }
  absl::StatusOr<agent::ExecResult> GuestExec(
      const std::vector<std::string>& args,
      const agent::ExecOptions& options) override {
    return inner_->GuestExec(args, options);
  }
  absl::Status Shutdown(bool power_off) override {
    return inner_->Shutdown(power_off);
  }
  void SetEventHandler(agent::EventHandler handler) override {
    inner_->SetEventHandler(std::move(handler));
  }

 private:
  std::shared_ptr<agent::AgentApi> inner_;
};

class ForwardingDriver : public vmm::VmDriver {
 public:
  explicit ForwardingDriver(std::shared_ptr<vmm::VmDriver> inner)
      : inner_(std::move(inner)) {}

  absl::Status Create(const vmm::VmSpec& spec) override {
    return inner_->Create(spec);
  }
  absl::Status Start(const VmId& id) override { return inner_->Start(id); }
  absl::StatusOr<vmm::ShutdownPath> Shutdown(
      const VmId& id, absl::Time deadline,
      const vmm::GracefulRequest& graceful) override {
    return inner_->Shutdown(id, deadline, graceful);
  }
  absl::Status Destroy(const VmId& id) override { return inner_->Destroy(id); }
  absl::Status Undefine(const VmId& id) override {
    return inner_->Undefine(id);
  }
  absl::Status Pause(const VmId& id) override { return inner_->Pause(id); }
  absl::Status Resume(const VmId& id) override { return inner_->Resume(id); }
  absl::StatusOr<vmm::VmState> GetState(const VmId& id) override {
    return inner_->GetState(id);
  }
  absl::StatusOr<vmm::VmStats> GetStats(const VmId& id) override {
    return inner_->GetStats(id);
  }
  absl::StatusOr<std::vector<vmm::VmInfo>> List(bool include_foreign) override {
    return inner_->List(include_foreign);
  }
  absl::StatusOr<vmm::HostFacts> GetHostFacts() override {
    return inner_->GetHostFacts();
  }
  absl::StatusOr<std::unique_ptr<ByteStream>> OpenChannel(
      const VmId& id, absl::string_view channel) override {
    return inner_->OpenChannel(id, channel);
  }
  int AddListener(vmm::EventCallback cb) override {
    return inner_->AddListener(std::move(cb));
  }
  void RemoveListener(int handle) override { inner_->RemoveListener(handle); }

 private:
  std::shared_ptr<vmm::VmDriver> inner_;
};

}  // namespace nest::control
