// Translation between the generated protocol messages and agent/types.h.
// Internal to agent/: the only place both worlds meet.
#pragma once

#include "agent/types.h"
#include "core/status.h"
#include "nest/agent/v1/agent.pb.h"

namespace nest::agent {

v1::Status ToProto(const absl::Status& status);
absl::Status FromProto(const v1::Status& status);

void ToProto(const AgentHello& in, v1::HelloResponse* out);
AgentHello FromProto(const v1::HelloResponse& in);

void ToProto(const HealthCheck& in, v1::HealthCheck* out);
HealthCheck FromProto(const v1::HealthCheck& in);
v1::Health ToProto(Health h);
Health FromProto(v1::Health h);
// The message of a kContainerHealth event: HealthName(health), and when
// kUnhealthy ": " and `reason`. Shared by the agent and FakeAgent.
std::string HealthEventMessage(Health health, absl::string_view reason);

void ToProto(const ContainerSpec& in, v1::CreateContainerRequest* out);
ContainerSpec FromProto(const v1::CreateContainerRequest& in);

void ToProto(const GuestNetwork& in, v1::ConfigureNetworkRequest* out);
GuestNetwork FromProto(const v1::ConfigureNetworkRequest& in);

void ToProto(const ContainerInfo& in, v1::ContainerInfo* out);
ContainerInfo FromProto(const v1::ContainerInfo& in);

void ToProto(const ExecResult& in, v1::ExecResponse* out);
ExecResult FromProto(const v1::ExecResponse& in);

void ToProto(const StatsReport& in, v1::StatsResponse* out);
StatsReport FromProto(const v1::StatsResponse& in);

void ToProto(const AgentEvent& in, v1::Event* out);
AgentEvent FromProto(const v1::Event& in);

}  // namespace nest::agent
